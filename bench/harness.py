"""Servers, the load driver, interleaved rounds and statistics shared by every scenario.

Load comes from this process (asyncio + aiohttp) against real ``datasette serve`` processes on
127.0.0.1; the servers never share a process with the driver.
"""

import asyncio
import concurrent.futures
import contextlib
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import httpx
from datasette_internal_db.testing import free_port, start_server

BENCH = Path(__file__).resolve().parent
PLUGINS_DIR = BENCH / "plugins_dir"
CORE = "datasette-internal-db"


# ---------------------------------------------------------------- servers


def launch(work, name, files=(), *, internal, plugins, config=None, args=(), env=None):
    """A ``datasette serve`` on a free port with the bench plugins_dir loaded.

    ``plugins=None`` loads no installed plugin at all (not even core): Datasette alone.
    """
    env = dict(env or {})
    if plugins is None:
        env["DATASETTE_LOAD_PLUGINS"] = ""
    directory = work / name
    directory.mkdir(parents=True, exist_ok=True)
    return start_server(
        directory,
        files,
        internal=str(internal),
        plugins=plugins,
        config=config,
        args=["--plugins-dir", str(PLUGINS_DIR), *args],
        env=env,
        timeout=120,
    )


def launch_many(work, specs):
    """Start several servers at once (their startups overlap); ``specs`` are launch() kwargs."""
    with concurrent.futures.ThreadPoolExecutor(len(specs)) as pool:
        futures = [pool.submit(launch, work, **spec) for spec in specs]
        concurrent.futures.wait(futures)
    failed = [future.exception() for future in futures if future.exception()]
    if failed:
        for future in futures:
            if not future.exception():
                future.result().stop()
        raise failed[0]
    return [future.result() for future in futures]


CORE_ONLY_RSS = "core only, same data, after some table-page requests"


async def core_only_rss(work, data_db, internal, requests=50):
    """The memory baseline for scenarios without a baseline server of their own."""
    server = launch(work, "core-only", [data_db], internal=internal, plugins=[])
    try:
        await latencies(Target(server.url, ["/data/items"]), requests, warmup=0)
        return peak_rss_mib(server)
    finally:
        server.stop()


def peak_rss_mib(server):
    """Peak resident set size (VmHWM) of the server process so far, in MiB."""
    with open(f"/proc/{server.process.pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("VmHWM not found")


def timed_start(work, name, files=(), *, internal, plugins, env=None):
    """Seconds from spawning ``datasette serve`` until ``/-/versions.json`` answers (10 ms polls).

    Same command line as ``start_server``; its own loop because start_server polls every 100 ms,
    too coarse to time a start. Returns (seconds, peak RSS MiB) and stops the server.
    """
    directory = work / name
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "datasette",
        "serve",
        *map(str, files),
        "-p",
        str(port),
        "-h",
        "127.0.0.1",
        "--internal",
        str(internal),
    ]
    environment = dict(os.environ, **(env or {}), DATASETTE_SECRET="bench")
    environment["DATASETTE_LOAD_PLUGINS"] = ",".join(dict.fromkeys([CORE, *plugins]))
    url = f"http://127.0.0.1:{port}/-/versions.json"
    with open(directory / f"server-{port}.log", "w") as log:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environment)
        try:
            while True:
                if process.poll() is not None:
                    raise RuntimeError(
                        f"server exited: {(directory / f'server-{port}.log').read_text()}"
                    )
                try:
                    httpx.get(url, timeout=1)
                    seconds = time.perf_counter() - started
                    break
                except httpx.TransportError:
                    time.sleep(0.01)
                if time.perf_counter() - started > 120:
                    raise RuntimeError("server did not start in 120 s")
            with open(f"/proc/{process.pid}/status") as status:
                hwm = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
            return seconds, hwm / 1024
        finally:
            process.terminate()
            process.wait(30)


# ---------------------------------------------------------------- load driver


@dataclass
class Target:
    """Requests to one server: paths are used in turn, so a run touches many rows/codes."""

    base: str
    paths: list
    method: str = "GET"
    cookies: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)
    json_body: object = None
    expect: tuple = (200,)

    def path(self, i):
        return self.paths[i % len(self.paths)]


class UnexpectedStatus(RuntimeError):
    pass


async def one_request(session, target, i):
    url = target.base + target.path(i)
    started = time.perf_counter()
    async with session.request(
        target.method, url, json=target.json_body, allow_redirects=False
    ) as response:
        body = await response.read()
        elapsed = time.perf_counter() - started
        if response.status not in target.expect:
            raise UnexpectedStatus(f"{target.method} {url} -> {response.status}: {body[:300]!r}")
        return elapsed


def client_session(target, concurrency):
    # Cookies go as a plain header: aiohttp's cookie jar refuses cookies for IP-address hosts.
    headers = dict(target.headers)
    if target.cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in target.cookies.items())
    return aiohttp.ClientSession(
        # uvicorn closes a connection idle for 5 s; reusing one it is closing fails the request
        # (ServerDisconnectedError), so the client lets idle ones go first.
        connector=aiohttp.TCPConnector(limit=concurrency, keepalive_timeout=4),
        headers=headers,
        cookie_jar=aiohttp.DummyCookieJar(),
    )


async def latencies(target, requests, warmup=20):
    """Sequential requests (concurrency 1): latency in ms of each, after a warm-up."""
    return (await paired_latencies({"only": target}, requests, warmup))["only"]


def alternating(names, index):
    return names if index % 2 == 0 else names[::-1]


async def paired_latencies(targets, requests, warmup=20, block=1, after_block=None):
    """Sequential requests to several targets, alternating every ``block`` requests (A B B A
    A B ...), so a burst of load from elsewhere on the machine hits every arm alike.
    ``after_block(name, count)`` runs after each arm's block (and after the warmup), untimed.
    Returns {name: [ms, ...]}.
    """
    names = list(targets)
    after_block = after_block or (lambda name, count: None)
    async with contextlib.AsyncExitStack() as stack:
        sessions = {
            name: await stack.enter_async_context(client_session(targets[name], 1))
            for name in names
        }
        for i in range(warmup):
            for name in names:
                await one_request(sessions[name], targets[name], i)
        for name in names:
            after_block(name, warmup)
        results = {name: [] for name in names}
        for start in range(0, requests, block):
            for name in alternating(names, start // block):
                stop = min(start + block, requests)
                for i in range(start, stop):
                    elapsed = await one_request(sessions[name], targets[name], warmup + i)
                    results[name].append(1000 * elapsed)
                after_block(name, stop - start)
        return results


async def paired_throughput(targets, seconds, concurrency, slices=6, warmup_seconds=0.3):
    """Requests/s per target with ``concurrency`` keep-alive connections; each target gets
    ``seconds`` in all, in ``slices`` turns alternating between the targets.
    """
    names = list(targets)
    async with contextlib.AsyncExitStack() as stack:
        sessions = {
            name: await stack.enter_async_context(client_session(targets[name], concurrency))
            for name in names
        }
        counter = iter(range(10**9))

        async def burst(name, duration):
            until = time.perf_counter() + duration
            done = []

            async def worker():
                while time.perf_counter() < until:
                    await one_request(sessions[name], targets[name], next(counter))
                    done.append(1)

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return len(done), time.perf_counter() - started

        for name in names:
            await burst(name, warmup_seconds)
        totals = {name: [0, 0.0] for name in names}
        for index in range(slices):
            for name in alternating(names, index):
                count, elapsed = await burst(name, seconds / slices)
                totals[name][0] += count
                totals[name][1] += elapsed
        return {name: count / elapsed for name, (count, elapsed) in totals.items()}


async def rounds_of(rounds, measure):
    """``measure()`` returns {arm: value}; gives {arm: [value per round]}."""
    results = {}
    for _ in range(rounds):
        for name, value in (await measure()).items():
            results.setdefault(name, []).append(value)
    return results


async def interleave(rounds, arms):
    """Run each arm once per round, alternating the order each round; values per arm."""
    names = list(arms)
    results = {name: [] for name in names}
    for index in range(rounds):
        for name in names if index % 2 == 0 else reversed(names):
            results[name].append(await arms[name]())
    return results


# ---------------------------------------------------------------- statistics


def percentile(values, p):
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median_p50(rounds):
    """The median over rounds of each round's p50, for notes."""
    return statistics.median(percentile(values, 50) for values in rounds)


def summary(values):
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "rounds": len(values),
        "values": values,
    }


def ratios(numerators, denominators):
    return [a / b for a, b in zip(numerators, denominators, strict=True)]


def figure(
    key,
    title,
    *,
    unit,
    values,
    goal,
    met,
    baseline=None,
    baseline_values=None,
    baseline_unit=None,
    ratio_values=None,
    notes="",
):
    """One row of the report. ``values`` per round; ``ratio_values`` per round when a ratio."""
    row = {
        "key": key,
        "title": title,
        "unit": unit,
        "value": summary(values),
        "goal": goal,
        "met": met,
        "notes": notes,
    }
    if baseline is not None:
        row["baseline"] = {"what": baseline, "unit": baseline_unit or unit}
        if baseline_values is not None:
            row["baseline"].update(summary(baseline_values))
    if ratio_values is not None:
        row["ratio"] = summary(ratio_values)
    return row


def memory_figure(key, what, value, baseline_what, baseline_value):
    return figure(
        key,
        f"Peak RSS (VmHWM) of the server: {what}",
        unit="MiB",
        values=[value],
        baseline=baseline_what,
        baseline_values=[baseline_value],
        ratio_values=[value / baseline_value],
        goal="reported",
        met=None,
    )


def not_measured(key, title, goal, reason):
    return {"key": key, "title": title, "goal": goal, "met": None, "notes": reason}
