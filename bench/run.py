"""Run every benchmark of the repo and write docs/benchmarks.md and docs/benchmarks.json.

    python bench/run.py            # full run (5-6 min on 2 idle cores, < 15 busy)
    python bench/run.py --smoke    # tiny data, one round, no report: keeps the code alive
    python bench/run.py --only comments --out /tmp/bench
    python bench/run.py --scale small  # data 10x smaller (large: 10x larger, see bench/README.md)
    python bench/run.py --scaling --scale large  # the size-dependent figures only: scaling table

Every figure is measured side by side with its baseline in the same run, the arms alternating
within each round; the report gives the median and the spread (min-max) over the rounds.
"""

import argparse
import asyncio
import json
import os
import platform
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import generate
import scaling
from harness import core_only_rss, not_measured
from scenarios import bookmarks, comments, core, webhooks

ROOT = Path(__file__).resolve().parent.parent
PLUGIN_SCENARIOS = [comments, bookmarks, webhooks]
SCENARIO_NAMES = ["core", *(s.NAME for s in PLUGIN_SCENARIOS)]


# Data sizes relative to the default run: every stored data set (rows, comments, bookmarks,
# short links, delivery log) is multiplied; request counts and durations are not.
SCALES = {"small": 0.1, "default": 1, "large": 10}


class Context:
    def __init__(self, work, smoke, rounds, plugins, scale="default"):
        self.work = work
        self.smoke = smoke
        self.scale = scale
        self.rounds = rounds
        self.plugins = plugins
        self.empty_internal = work / "empty-internal.db"
        self.large_internal = work / "large-internal.db"
        self.large_contents = ""
        self.data_db = work / "data.db"
        self.data_rows = self.data_size(full=100_000, smoke=500)
        self.warmup = self.size(full=20, smoke=4)  # requests per arm before latencies count

    def size(self, full, smoke):
        return smoke if self.smoke else full

    def data_size(self, full, smoke):
        """How many of a stored data set: ``full`` at the default scale."""
        return smoke if self.smoke else round(full * SCALES[self.scale])

    def copy_empty(self, name):
        """A fresh copy of the migrated empty internal DB, for one baseline server."""
        path = self.work / f"empty-{name}.db"
        shutil.copyfile(self.empty_internal, generate.fresh(path))
        return path


def installed(distribution):
    try:
        version(distribution)
        return True
    except PackageNotFoundError:
        return False


def machine():
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in open("/proc/cpuinfo")
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    versions = {
        name: version(name)
        for name in ["datasette", "datasette-internal-db", "aiohttp", "sqlite-utils"]
        + [s.PLUGIN for s in PLUGIN_SCENARIOS]
        if installed(name)
    }
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "versions": versions,
        "commit": commit,
        "load_average_at_start": os.getloadavg(),
    }


def data_stamp(ctx):
    return {"scale": ctx.scale, "smoke": ctx.smoke, "plugins": ctx.plugins}


def reusable_data(ctx):
    """The contents of data a previous run left in ``ctx.work`` for the same sizes, or None."""
    stamp = ctx.work / "data.json"
    if not stamp.exists() or not all(
        path.exists() for path in (ctx.data_db, ctx.empty_internal, ctx.large_internal)
    ):
        return None
    kept = json.loads(stamp.read_text())
    return kept["contents"] if kept["made_for"] == data_stamp(ctx) else None


def build_data(ctx, scenarios, reuse=False):
    if reuse and (contents := reusable_data(ctx)) is not None:
        ctx.large_contents = contents
        return 0.0
    started = time.perf_counter()
    for path in (ctx.data_db, ctx.empty_internal, ctx.large_internal):
        generate.fresh(path)
    generate.data_db(ctx.data_db, ctx.data_rows)
    generate.init_internal(ctx.empty_internal, ctx.plugins)
    shutil.copyfile(ctx.empty_internal, ctx.large_internal)
    contents = []
    for scenario in scenarios:
        contents.append(scenario.fill(ctx, ctx.large_internal))
    conn = sqlite3.connect(ctx.large_internal)
    conn.execute("pragma journal_mode=wal")
    conn.close()
    ctx.large_contents = "; ".join(contents) or "core tables only"
    stamp = {"made_for": data_stamp(ctx), "contents": ctx.large_contents}
    (ctx.work / "data.json").write_text(json.dumps(stamp))
    return time.perf_counter() - started


async def run_all(ctx, only, scaling_only=False, reuse_data=False):
    figures, errors = [], []
    available = [s for s in PLUGIN_SCENARIOS if s.PLUGIN in ctx.plugins]
    timings = {"data": build_data(ctx, available, reuse_data)}
    print(f"data generated in {timings['data']:.1f} s: {ctx.large_contents}", flush=True)
    started = time.perf_counter()
    ctx.core_only_rss = await core_only_rss(
        ctx.work, ctx.data_db, ctx.copy_empty("core-only"), ctx.size(full=50, smoke=5)
    )
    timings["core-only memory baseline"] = time.perf_counter() - started
    runs = [("core", core.internal_writes), ("core", core.startup), ("core", core.fresh_start)]
    runs += [("core", core.memory_held)]
    runs += [(s.NAME, run) for s in available for run in getattr(s, "RUNS", [s.run])]
    figures_of = {s.NAME: s.FIGURES for s in PLUGIN_SCENARIOS}
    for name, function in runs:
        if only and name not in only:
            continue
        if scaling_only and f"{name}.{function.__name__}" not in scaling.RUNS:
            continue
        print(f"running {name}.{function.__name__} ...", flush=True)
        started = time.perf_counter()
        try:
            figures.extend(await function(ctx))
        except Exception as error:
            errors.append(
                {
                    "scenario": f"{name}.{function.__name__}",
                    "error": repr(error),
                    "traceback": traceback.format_exc(),
                }
            )
            print(traceback.format_exc(), file=sys.stderr, flush=True)
            figures.extend(
                not_measured(key, title, goal, f"the scenario failed: {error!r}")
                for key, title, goal in figures_of.get(name, [])
            )
        timings[f"{name}.{function.__name__}"] = time.perf_counter() - started
    for scenario in PLUGIN_SCENARIOS:
        if scenario.PLUGIN not in ctx.plugins and (not only or scenario.NAME in only):
            figures.extend(
                not_measured(key, title, goal, f"{scenario.PLUGIN} is not installed")
                for key, title, goal in scenario.FIGURES
            )
    return figures, errors, timings


def fmt(value, unit):
    if value is None:
        return ""
    if unit in ("ms", "s", "x"):
        text = f"{value:.3f}" if value < 10 else f"{value:.1f}"
    else:
        text = f"{value:,.0f}" if value >= 100 else f"{value:.1f}"
    return f"{text} {unit}"


def spread(summary, unit):
    if not summary or summary["rounds"] < 2:
        return "1 round"
    return f"{fmt(summary['min'], unit)} – {fmt(summary['max'], unit)} ({summary['rounds']} rounds)"


def markdown(report):
    m = report["machine"]
    lines = [
        "# Benchmarks",
        "",
        "Generated by `bench/run.py` — do not edit by hand. Rerun with `nox -s bench`.",
        "",
        f"- Run: {report['finished']} UTC, {report['duration_s']:.0f} s"
        + (" (**smoke run**: tiny data, figures meaningless)" if report["smoke"] else ""),
        f"- Command: `{report['command']}`; data scale: {report.get('scale', 'default')}",
        f"- Machine: {m['nproc']} CPUs, {m['cpu']}; {m['platform']}",
        f"- Python {m['python']}, SQLite {m['sqlite']}; "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items()),
        f"- Commit {m['commit']}; load average at start "
        + " / ".join(f"{x:.2f}" for x in m["load_average_at_start"])
        + ", at end "
        + " / ".join(f"{x:.2f}" for x in report["load_average_at_end"]),
        "",
        "Replication (RPO, RTO, read-node lag, write cost) is measured by `nox -s "
        "bench_replication` (`bench/replication.py`) into "
        "[scale-out.md](scale-out.md#benchmarks). How the figures grow with the data "
        "(10x smaller and 10x larger): [benchmarks-scaling.md](benchmarks-scaling.md), made by "
        "`nox -s bench_scaling`.",
        "",
        "## Method",
        "",
        *report["method"],
        "",
        "## Results",
        "",
        "| Figure | Value (median) | Baseline, same run (median) | Ratio (median) "
        "| Spread of the goal's figure (min – max) | Goal | Met? |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in report["figures"]:
        if "value" not in row:
            lines.append(f"| {row['title']} | not measured | | | | {row['goal']} | — |")
            continue
        unit = row["unit"]
        baseline = row.get("baseline", {})
        baseline_text = baseline.get("what", "")
        if "median" in baseline:
            baseline_text += f": {fmt(baseline['median'], baseline['unit'])}"
        ratio = row.get("ratio")
        ratio_text = f"{ratio['median']:.3f}" if ratio else ""
        goal_on_ratio = row["goal"].startswith("ratio")
        shown = ratio if goal_on_ratio and ratio else row["value"]
        met = {True: "**yes**", False: "**NO**", None: "—"}[row["met"]]
        lines.append(
            f"| {row['title']} | {fmt(row['value']['median'], unit)} | {baseline_text} "
            f"| {ratio_text} | {spread(shown, 'x' if goal_on_ratio and ratio else unit)} "
            f"| {row['goal']} | {met} |"
        )
    notes = [row for row in report["figures"] if row.get("notes")]
    if notes:
        lines += ["", "## Notes", ""]
        lines += [f"- **{row['title']}**: {row['notes']}" for row in notes]
    if report["errors"]:
        lines += ["", "## Errors", ""]
        lines += [f"- `{e['scenario']}`: `{e['error']}`" for e in report["errors"]]
    lines += ["", "## Time per step", ""]
    lines += [f"- {name}: {seconds:.1f} s" for name, seconds in report["timings"].items()]
    return "\n".join(lines) + "\n"


METHOD = [
    "- Every server is a real `datasette serve` on 127.0.0.1, started by "
    "`datasette_internal_db.testing.start_server` with `--plugins-dir bench/plugins_dir` "
    "(trivial fixed-redirect and write-timing routes) and `DATASETTE_LOAD_PLUGINS` naming exactly "
    "the plugins each arm loads.",
    "- Load comes from a separate process (`bench/run.py`): an asyncio driver on `aiohttp` with "
    "keep-alive connections. Why: no extra tool to keep, Python like the rest of the repo, and on "
    "this class of machine aiohttp is the fastest Python client measured (about 2,000 req/s, vs "
    "about 200/s for plain httpx — see FIELD-NOTES), so the driver is not the ceiling of the "
    "throughput figures. Latency figures are sequential requests (concurrency 1); throughput "
    "figures use several concurrent connections. On a 2-core machine the driver and the server "
    "share the CPUs: baseline and candidate pay that equally.",
    "- A figure and its baseline are measured in the same run, interleaved: within each round "
    "the arms alternate request by request (latency figures), in alternating slices "
    "(throughput: six per arm, 24 for the short-link redirect), in blocks of 25 requests "
    "(`/-/insert`, whose deliveries follow each write) or run by run, alternating which goes "
    "first (writes/s, startup, delivery backlogs). The ratio is taken per round; the table "
    "gives the median over rounds and the spread (min – max) of the figure the goal is about.",
    "- Data sets are generated deterministically (fixed seeds) by `bench/generate.py` and the "
    "scenario modules: `datasette internal init` with the plugins installed creates the schema "
    "through their migrations, then bulk `executemany` fills it before any server starts.",
    "- Peak memory is `VmHWM` from `/proc/<pid>/status` of each server process at the end of its "
    "scenario.",
    "- The machine may be shared: absolute numbers move with other load; ratios much less so.",
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny data, one round (< 60 s)")
    parser.add_argument("--rounds", type=int, help="rounds per figure (default 5; smoke 1)")
    parser.add_argument(
        "--only",
        action="append",
        choices=SCENARIO_NAMES,
        help="run only these scenarios (repeatable)",
    )
    parser.add_argument(
        "--out",
        help="directory for benchmarks.md/.json (default docs/; --smoke writes none unless given)",
    )
    parser.add_argument("--work", help="working directory for data and logs (default: temporary)")
    parser.add_argument(
        "--scale",
        choices=list(SCALES),
        default="default",
        help="data sizes: small = 10x smaller, large = 10x larger (report: benchmarks-<scale>.md)",
    )
    parser.add_argument(
        "--scaling",
        action="store_true",
        help="only the figures that depend on data size; adds this size to benchmarks-scaling.md",
    )
    parser.add_argument(
        "--reuse-data",
        action="store_true",
        help="use the data an earlier run left in --work for the same scale and plugins "
        "(the large scale takes ~18 min to make; that run's writes are still in it)",
    )
    args = parser.parse_args()
    rounds = args.rounds or (1 if args.smoke else 5)
    started_at = time.perf_counter()
    work = Path(args.work or tempfile.mkdtemp(prefix="datasette-internal-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    plugins = [
        s.PLUGIN
        for s in PLUGIN_SCENARIOS
        if installed(s.PLUGIN) and (not args.only or "core" in args.only or s.NAME in args.only)
    ]
    ctx = Context(work, args.smoke, rounds, plugins, args.scale)
    # The table page figure loads every installed plugin, whatever --only says.
    ctx.every_plugin = [s.PLUGIN for s in PLUGIN_SCENARIOS if installed(s.PLUGIN)]
    info = machine()
    figures, errors, timings = asyncio.run(run_all(ctx, args.only, args.scaling, args.reuse_data))
    report = {
        "smoke": args.smoke,
        "scale": args.scale,
        "command": shlex.join(["python", "bench/run.py", *sys.argv[1:]]),
        "finished": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "duration_s": time.perf_counter() - started_at,
        "rounds": rounds,
        "machine": info,
        "load_average_at_end": os.getloadavg(),
        "method": METHOD,
        "figures": figures,
        "errors": errors,
        "timings": timings,
        "data_rows": ctx.data_rows,
        "large_contents": ctx.large_contents,
    }
    # A smoke run's figures mean nothing: it writes a report only where --out says.
    out = Path(args.out) if args.out else (None if args.smoke else ROOT / "docs")
    if out and args.scaling:
        out.mkdir(parents=True, exist_ok=True)
        scaling.report_path(out, args.scale).write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {scaling.render(out)}")
    elif out:
        out.mkdir(parents=True, exist_ok=True)
        name = "benchmarks" if args.scale == "default" else f"benchmarks-{args.scale}"
        (out / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
        (out / f"{name}.md").write_text(markdown(report))
        print(f"wrote {out / (name + '.md')}")
    if args.work or errors:
        print(f"data and server logs kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    print(f"finished in {report['duration_s']:.0f} s")
    for row in figures:
        print(f"  {row['met']!s:5} {row['title']}")
    if errors:
        print(f"{len(errors)} scenario(s) failed", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
