"""Core: internal-DB write rate with core's settings vs Datasette's defaults; startup time."""

import statistics

import httpx
from generate import fresh
from harness import (
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
