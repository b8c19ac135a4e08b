"""Core: internal-DB write rate with core's settings vs Datasette's defaults; startup time."""

import json
import os
import statistics
import subprocess
import sys

import httpx
from generate import fresh
from harness import (
    CORE,
    figure,
    interleave,
    launch_many,
    memory_figure,
    peak_rss_mib,
    ratios,
    timed_start,
)


async def internal_writes(ctx):
    """One-row execute_write calls per second, timed inside each server by the bench route."""
    writes = ctx.size(full=1000, smoke=50)
    with_core, datasette_alone = launch_many(
        ctx.work,
        [
            dict(name="writes-core", internal=fresh(ctx.work / "writes-core.db"), plugins=[]),
            dict(
                name="writes-datasette",
                internal=fresh(ctx.work / "writes-datasette.db"),
                plugins=None,
            ),
        ],
    )
    settings = {}
    try:

        def arm(server, name):
            async def run():
                response = httpx.post(f"{server.url}/-/bench/writes?n={writes}", timeout=300)
                response.raise_for_status()
                result = response.json()
                settings[name] = (result["journal_mode"], result["synchronous"])
                return result["writes"] / result["seconds"]

            return run

        rates = await interleave(
            ctx.rounds, {"core": arm(with_core, "core"), "datasette": arm(datasette_alone, "ds")}
        )
        memory = peak_rss_mib(with_core), peak_rss_mib(datasette_alone)
    finally:
        with_core.stop()
        datasette_alone.stop()
    core_mode, datasette_mode = settings["core"], settings["ds"]
    ratio = ratios(rates["core"], rates["datasette"])
    return [
        figure(
            "core.internal_writes",
            f"Internal DB: one-row `execute_write` calls/s with core (journal_mode={core_mode[0]}, "
            f"synchronous={core_mode[1]})",
            unit="writes/s",
            values=rates["core"],
            baseline=f"Datasette alone, same `--internal` file type (journal_mode="
            f"{datasette_mode[0]}, synchronous={datasette_mode[1]})",
            baseline_values=rates["datasette"],
            ratio_values=ratio,
            goal="ratio >= 1.0 (core's settings never slower)",
            met=statistics.median(ratio) >= 1.0,
            notes=f"{writes} sequential awaited one-row inserts per round, timed inside the server "
            "(bench/plugins_dir/bench_routes.py); the write thread's handoff dominates.",
        ),
        memory_figure(
            "core.internal_writes.rss", "writes with core", memory[0], "Datasette alone", memory[1]
        ),
    ]


async def startup(ctx):
    """Seconds until the first answer with the large internal DB vs a migrated empty one."""
    plugins = ctx.plugins
    empty = ctx.copy_empty("startup")
    large = ctx.large_internal
    memory = {}

    def arm(name, path):
        async def run():
            seconds, rss = timed_start(ctx.work, f"startup-{name}", internal=path, plugins=plugins)
            memory.setdefault(name, []).append(rss)
            return seconds

        return run

    times = await interleave(
        ctx.rounds, {"large": arm("large", large), "empty": arm("empty", empty)}
    )
    ratio = ratios(times["large"], times["empty"])
    size_mib = large.stat().st_size / 2**20
    return [
        figure(
            "core.startup",
            f"Startup to first answer with a {size_mib:,.0f} MiB internal DB",
            unit="s",
            values=times["large"],
            baseline="same plugins, migrated empty internal DB",
            baseline_values=times["empty"],
            ratio_values=ratio,
            goal="no goal set in the issues (reported)",
            met=None,
            notes=f"The large internal DB holds {ctx.large_contents}. "
            f"Plugins loaded: {', '.join(['core', *plugins])}; spawn of `datasette serve` "
            "until `/-/versions.json` answers, polled every 10 ms.",
        ),
        memory_figure(
            "core.startup.rss",
            "started on the large internal DB",
            max(memory["large"]),
            "started on the empty one",
            max(memory["empty"]),
        ),
    ]


# Run in a fresh interpreter per arm: which plugins load is fixed when Datasette is imported.
FRESH_START = """
import asyncio, json, logging, statistics, sys, time
logging.disable(logging.WARNING)  # core's "state is lost" warning, once per start
from datasette.app import Datasette

async def start():
    wall, cpu = time.perf_counter(), time.process_time()
    datasette = Datasette(memory=True)
    await datasette.invoke_startup()
    timed = time.perf_counter() - wall, time.process_time() - cpu
    for database in [*datasette.databases.values(), datasette.get_internal_database()]:
        database.close()
    return timed

async def main(count):
    await start()  # imports and first-use work are not what a test suite repeats
    times = [await start() for _ in range(count)]
    print(json.dumps([statistics.median(t[i] for t in times) for i in (0, 1)]))

asyncio.run(main(int(sys.argv[1])))
"""


async def fresh_start(ctx):
    """``Datasette(memory=True)`` + ``invoke_startup()`` with every plugin vs Datasette alone:
    what each test of a Datasette test suite pays, and what this repo adds to it."""
    starts = ctx.size(full=20, smoke=3)
    every = [CORE, *ctx.every_plugin]
    arms = {"all": every, "alone": []}
    times, cpu = {"all": [], "alone": []}, {"all": [], "alone": []}

    def measure(plugins):
        completed = subprocess.run(
            [sys.executable, "-c", FRESH_START, str(starts)],
            env=dict(os.environ, DATASETTE_LOAD_PLUGINS=",".join(plugins)),
            capture_output=True,
            text=True,
            check=True,
        )
        wall, seconds = json.loads(completed.stdout.strip().splitlines()[-1])
        return 1000 * wall, seconds

    for index in range(ctx.rounds):
        # A B B A (B A A B the next round): a slow stretch of a shared machine hits both arms.
        order = (
            ["all", "alone", "alone", "all"] if index % 2 == 0 else ["alone", "all", "all", "alone"]
        )
        runs = {"all": [], "alone": []}
        for name in order:
            runs[name].append(measure(arms[name]))
        for name, pair in runs.items():
            times[name].append(statistics.mean(wall for wall, _ in pair))
            cpu[name].append(statistics.mean(seconds for _, seconds in pair))
    ratio = ratios(times["all"], times["alone"])
    cpu_ratio = ratios(cpu["all"], cpu["alone"])
    return [
        figure(
            "core.fresh_start",
            "Fresh `Datasette(memory=True)` + `invoke_startup()` with every plugin",
            unit="ms",
            values=times["all"],
            baseline="Datasette alone (no plugin installed loads)",
            baseline_values=times["alone"],
            ratio_values=ratio,
            goal="ratio <= 1.3",
            met=statistics.median(ratio) <= 1.3,
            notes=f"Plugins: {', '.join(every)}. Each run is a fresh interpreter timing {starts} "
            "starts after one untimed start (median wall time, as the issue measured it); two "
            "runs per arm per round, in the order A B B A, then B A A B. CPU time of the "
            "process (all threads; on a busy machine wall time also measures waiting for a "
            f"core): {1000 * statistics.median(cpu['all']):.1f} ms vs "
            f"{1000 * statistics.median(cpu['alone']):.1f} ms, ratio "
            f"{statistics.median(cpu_ratio):.2f} ({min(cpu_ratio):.2f}-{max(cpu_ratio):.2f}). "
            "Below 1 is real: core's prepared image of a fresh internal DB also holds Datasette's "
            "own schema step, which alone costs ~20 ms of CPU (sqlite-utils 4.2's executescript "
            "splits statements by re-joining every line so far), so with these packages installed "
            "that step is a page copy too. Each package's PyPI long description is a short "
            "summary: Datasette parses every plugin's whole METADATA twice per start.",
        )
    ]


# Which modules each package brings in, in load order: its own and the libraries it imports.
MODULES_BY_PACKAGE = """
import importlib, importlib.metadata, json, pkgutil, sys
import datasette.app
found = {}
for package in sys.argv[1:]:
    before = set(sys.modules)
    for entry in importlib.metadata.distribution(package).entry_points:
        if entry.group == "datasette":
            module = importlib.import_module(entry.value)
            for info in pkgutil.walk_packages(module.__path__, module.__name__ + "."):
                if not info.name.endswith(("testing", "__main__")):
                    importlib.import_module(info.name)
    found[package] = sorted(set(sys.modules) - before)
print(json.dumps(found))
"""

# Replays those imports library by library, reading VmRSS between them.
RSS_BY_LIBRARY = """
import importlib, json, sys
def rss():
    with open("/proc/self/status") as status:
        return next(int(l.split()[1]) / 1024 for l in status if l.startswith("VmRSS:"))
import datasette.app
found, own = json.loads(sys.argv[1]), set(json.loads(sys.argv[2]))
held = []
for package, modules in found.items():
    libraries = {}
    for name in modules:
        libraries.setdefault(name.split(".")[0], []).append(name)
    for library, names in sorted(libraries.items(), key=lambda item: item[0] in own):
        before = rss()
        for name in names:
            try:
                importlib.import_module(name)
            except ImportError:
                pass
        held.append([package, library, rss() - before])
print(json.dumps(held))
"""


async def memory_held(ctx):
    """What each package's imports add to a Datasette process: its own modules and its libraries."""
    every = [CORE, *ctx.every_plugin]
    own = [package.replace("-", "_") for package in every]

    def run(script, *arguments):
        completed = subprocess.run(
            [sys.executable, "-c", script, *arguments],
            env=dict(os.environ, DATASETTE_LOAD_PLUGINS=""),
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(completed.stdout.strip().splitlines()[-1])

    found = run(MODULES_BY_PACKAGE, *every)
    held = run(RSS_BY_LIBRARY, json.dumps(found), json.dumps(own))
    per_package = {package: 0.0 for package in every}
    largest = []
    for package, library, mib in held:
        per_package[package] += mib
        if mib >= 0.5:
            largest.append(f"{library} {mib:.1f} MiB ({package})")
    return [
        figure(
            "core.memory_held",
            "Memory the packages' imports add to a Datasette process (VmRSS)",
            unit="MiB",
            values=[sum(per_package.values())],
            goal="reported (issue 17: what holds the memory)",
            met=None,
            notes="Per package, its own modules and the libraries it is first to import, in "
            "load order: "
            + ", ".join(f"{package} {mib:.1f} MiB" for package, mib in per_package.items())
            + ". Libraries of 0.5 MiB or more: "
            + (", ".join(largest) or "none")
            + ". The rest of each Peak RSS row's difference is data held at run time: SQLite "
            "page caches of the internal DB's connections and the plugins' in-memory caches.",
        )
    ]
