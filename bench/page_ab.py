"""Two servers side by side on the bench's data: the table page `/data/items` (100 rows, as the
signed-in reader of the table-page figures) timed on one server against the other, to see what
one plugin, one hook or one change of code costs a page.

    python bench/page_ab.py --work W core all
    python bench/page_ab.py --work W all all,-datasette_internal_comments.render_cell
    python bench/page_ab.py --work W all all,@/path/to/other/checkout --rounds 6

``--work`` is a directory a run of ``bench/run.py --work W`` left its data in. An arm is a
comma-separated list, its first item the plugins:

- ``core`` (core only, on an empty internal DB: the bench's baseline), ``comments``, ``bookmarks``,
  ``webhooks`` (one plugin) or ``all``, each on its own copy of the bench's large internal DB;
- ``-module.hook``: that hook implementation taken out of the server (``BENCH_WITHOUT_HOOKS``,
  bench/plugins_dir/bench_routes.py), checked in ``/-/plugins.json``;
- ``@PATH``: the packages of another checkout at PATH imported instead of the installed ones.

Each round starts a fresh pair of servers, times one untimed pass over the 50 pages and then
``--pages`` pages per arm alternating (A B B A ...), and prints the ratio of the medians, second
arm over first; the last line is the median over the rounds and their spread.
"""

import argparse
import asyncio
import json
import sqlite3
import statistics
from contextlib import closing
from pathlib import Path

import generate
import httpx
from harness import Target, launch_many, paired_latencies, percentile
from scenarios import bookmarks, comments, webhooks

PLUGINS = {"core": [], **{s.NAME: [s.PLUGIN] for s in (comments, bookmarks, webhooks)}}
PLUGINS["all"] = [name for names in PLUGINS.values() for name in names]
PACKAGE_DIRS = ["core", "plugins/comments", "plugins/bookmarks", "plugins/webhooks"]


def arm_spec(index, text, work):
    """launch() arguments for one arm, and the hooks it must not have."""
    plugins, *changes = text.split(",")
    if plugins not in PLUGINS:
        raise SystemExit(f"unknown plugins {plugins!r}: one of {', '.join(PLUGINS)}")
    removed = [change[1:] for change in changes if change.startswith("-")]
    checkouts = [Path(change[1:]) for change in changes if change.startswith("@")]
    if len(removed) + len(checkouts) != len(changes):
        raise SystemExit(f"arm {text!r}: each change starts with - (a hook) or @ (a checkout)")
    name = f"ab-{index}"
    source = work / ("large-internal.db" if PLUGINS[plugins] else "empty-internal.db")
    internal = copy_database(source, work / f"{name}-internal.db")
    env = {"BENCH_WITHOUT_HOOKS": ",".join(removed)}
    if checkouts:
        env["PYTHONPATH"] = ":".join(str(path / d) for path in checkouts for d in PACKAGE_DIRS)
    spec = dict(
        name=name, files=[work / "data.db"], internal=internal, plugins=PLUGINS[plugins], env=env
    )
    return spec, removed


def check_data(work, arms):
    """The data in ``work`` was made for every plugin the arms load (``data.json``): a run with
    ``--only`` leaves data of that plugin alone, on which the others would be timed empty."""
    stamp = work / "data.json"
    if not stamp.exists():
        raise SystemExit(f"no bench data in {work}: run bench/run.py --work {work}")
    made_for = json.loads(stamp.read_text())["made_for"]["plugins"]
    missing = {name for arm in arms for name in PLUGINS.get(arm.split(",")[0], [])} - {*made_for}
    if missing:
        raise SystemExit(
            f"the data in {work} has none of {', '.join(sorted(missing))}: run bench/run.py"
            f" --work {work} without --only"
        )


def copy_database(source, destination):
    """A copy of ``source`` with what its WAL holds, over no file left from an earlier run."""
    with closing(sqlite3.connect(source)) as original:
        with closing(sqlite3.connect(generate.fresh(destination))) as copy:
            original.backup(copy)
    return destination


def check_removed(server, removed):
    """Each removed hook is gone from the plugin's hooks in ``/-/plugins.json`` (which names
    an installed plugin by its distribution: the module's name with dashes)."""
    plugins = httpx.get(f"{server.url}/-/plugins.json").json()
    hooks = {plugin["name"]: plugin["hooks"] for plugin in plugins}
    for item in removed:
        module, _, hook = item.rpartition(".")
        distribution = module.replace("_", "-")
        if distribution not in hooks:
            raise RuntimeError(f"{distribution} is not in {server.url}/-/plugins.json")
        if hook in hooks[distribution]:
            raise RuntimeError(f"{item} is still in {server.url}/-/plugins.json")


async def one_round(work, specs, pages):
    with closing(sqlite3.connect(work / "data.db")) as data:
        paths = comments.table_pages(data.execute("select count(*) from items").fetchone()[0])
    servers = launch_many(work, [spec for spec, _ in specs])
    try:
        for server, (_, removed) in zip(servers, specs, strict=True):
            check_removed(server, removed)
        targets = {
            str(i): Target(server.url, paths, cookies=server.cookies_for(comments.READER))
            for i, server in enumerate(servers)
        }
        times = await paired_latencies(targets, pages, warmup=len(paths))
        return percentile(times["1"], 50) / percentile(times["0"], 50)
    finally:
        for server in servers:
            server.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, required=True, help="a bench/run.py --work dir")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--pages", type=int, default=200, help="timed pages per arm per round")
    parser.add_argument("first")
    parser.add_argument("second")
    args = parser.parse_args()
    check_data(args.work, [args.first, args.second])
    specs = [arm_spec(i, text, args.work) for i, text in enumerate([args.first, args.second])]
    ratios = []
    for number in range(1, args.rounds + 1):
        ratios.append(asyncio.run(one_round(args.work, specs, args.pages)))
        print(f"round {number}: {args.second} / {args.first} = {ratios[-1]:.4f}", flush=True)
    print(
        f"median {statistics.median(ratios):.4f} ({min(ratios):.4f}-{max(ratios):.4f},"
        f" {args.rounds} rounds of {args.pages} pages per arm)"
    )


if __name__ == "__main__":
    main()
