"""Webhooks: deliveries/s, `/-/insert` overhead, write-to-delivery latency."""

import asyncio
import base64
import hmac
import json
import sqlite3
import statistics
import subprocess
import sys
import time

import aiohttp
import generate
import httpx
from datasette_internal_db.testing import free_port
from harness import (
    BENCH,
    Target,
    alternating,
    client_session,
    figure,
    interleave,
    launch_many,
    memory_figure,
    one_request,
    paired_latencies,
    peak_rss_mib,
    percentile,
    ratios,
    rounds_of,
)

NAME = "webhooks"
PLUGIN = "datasette-internal-webhooks"
FIGURES = [
    (
        "webhooks.deliveries",
        "Webhooks: deliveries/s to a local receiver vs a bare aiohttp client",
        "ratio >= 0.80",
    ),
    (
        "webhooks.insert_overhead",
        "Webhooks: `/-/insert` latency, one endpoint vs none",
        "ratio <= 1.05",
    ),
    ("webhooks.write_to_delivery", "Webhooks: write-to-delivery latency, p50", "reported"),
    (
        "webhooks.write_to_delivery_wal",
        "Webhooks: write-to-delivery latency, data file in WAL mode, p50",
        "p50 <= 10 ms",
    ),
    (
        "webhooks.delivery_after_response",
        "Webhooks: delivery arrival minus the `/-/insert` response, p50",
        "reported",
    ),
]

ENDPOINTS = "datasette_internal_webhooks_endpoints"
MESSAGES = "datasette_internal_webhooks_messages"
DELIVERIES = "datasette_internal_webhooks_deliveries"
ATTEMPTS = "datasette_internal_webhooks_attempts"
HISTORY_ENDPOINT = "ep_bench_history"


def log_size(ctx):
    return ctx.data_size(full=1_000_000, smoke=5_000)


def fill(ctx, path):
    """A delivery log of one (disabled) endpoint: every message delivered in one attempt.

    Times are the last 24 hours before now, so the plugin's retention pruning keeps them.
    """
    count = log_size(ctx)
    random = generate.rng(NAME)
    now = time.time()
    start = now - 86_400
    step = 86_400 / count
    conn = generate.bulk(sqlite3.connect(path))
    with conn:
        conn.execute(
            f"insert into {ENDPOINTS} (id, url, event_types, active, disabled_reason, created_at,"
            " updated_at) values (?, 'https://receiver.example/hook', '[\"*\"]', 0,"
            " 'benchmark history', '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00')",
            [HISTORY_ENDPOINT],
        )
        # The plugin's id shape (events.new_message_id): time first, so the key grows at its end.
        message_ids = [
            f"msg_{int((start + i * step) * 1e6):014x}{random.getrandbits(64):016x}"
            for i in range(count)
        ]
        conn.executemany(
            f"insert into {MESSAGES} (id, event_type, payload, created_at) values (?, ?, ?, ?)",
            (
                (
                    message_id,
                    "insert-rows",
                    json.dumps(
                        {
                            "type": "insert-rows",
                            "timestamp": start + i * step,
                            "data": {"database": "data", "table": "items", "num_rows": 1},
                        }
                    ),
                    start + i * step,
                )
                for i, message_id in enumerate(message_ids)
            ),
        )
        conn.executemany(
            f"insert into {DELIVERIES} (id, message_id, endpoint_id, status, attempts,"
            " next_attempt_at, last_status_code, created_at, updated_at)"
            " values (?, ?, ?, 'succeeded', 1, null, 200, ?, ?)",
            (
                (i + 1, message_id, HISTORY_ENDPOINT, start + i * step, start + i * step + 0.01)
                for i, message_id in enumerate(message_ids)
            ),
        )
        conn.executemany(
            f"insert into {ATTEMPTS} (delivery_id, message_id, endpoint_id, attempted_at,"
            " status_code, latency_ms, response_body, error, succeeded)"
            " values (?, ?, ?, ?, 200, ?, 'ok', null, 1)",
            (
                (
                    i + 1,
                    message_id,
                    HISTORY_ENDPOINT,
                    start + i * step + 0.01,
                    random.uniform(1, 30),
                )
                for i, message_id in enumerate(message_ids)
            ),
        )
    conn.close()
    return f"{count:,} delivery-log attempts (with their messages and deliveries)"


SECRET = "whsec_" + base64.b64encode(b"datasette-internal-bench-secret!").decode()
INSERT_PATH = "/hooks/events_in/-/insert"
WAL_INSERT_PATH = "/hooks_wal/events_in/-/insert"


def hooks_db(directory, name="hooks", journal_mode="delete"):
    """A fresh database named ``name`` (Datasette names it after the file) with ``events_in``,
    in ``journal_mode`` (kept by the file; Datasette does not change it)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.db"
    for leftover in (path, directory / f"{name}.db-wal", directory / f"{name}.db-shm"):
        leftover.unlink(missing_ok=True)
    conn = sqlite3.connect(path)
    conn.execute(f"pragma journal_mode={journal_mode}")
    conn.execute("create table events_in (id integer primary key, value text)")
    conn.close()
    return path


def plugin_config(receiver_url, subscribed):
    block = {"allow_networks": ["127.0.0.1/32"], "poll_interval": 1}
    if subscribed:
        block["endpoints"] = [
            {"name": "bench", "url": receiver_url, "event_types": ["insert-rows"], "secret": SECRET}
        ]
    return {"plugins": {PLUGIN: block}}


class Receiver:
    """bench/receiver.py in its own process."""

    def __init__(self, work):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(work / "receiver.log", "w")
        self.process = subprocess.Popen(
            [sys.executable, str(BENCH / "receiver.py"), str(self.port)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        for _ in range(300):
            try:
                self.stats()
                return
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError("receiver did not start")

    def stats(self):
        return httpx.get(self.url + "/stats", timeout=5).json()

    def reset(self):
        httpx.post(self.url + "/reset", timeout=5).raise_for_status()

    def wait(self, count, timeout=60):
        response = httpx.get(
            self.url + "/wait", params={"count": count, "timeout": timeout}, timeout=timeout + 5
        )
        if response.status_code != 200:
            raise RuntimeError(f"receiver got {response.json()['count']} of {count} deliveries")
        return response.json()["at"]

    def stop(self):
        self.process.terminate()
        self.process.wait(10)
        self.log.close()


def enqueue_backlog(internal_path, count):
    """``count`` due messages for the config endpoint, written by the plugin's own enqueue SQL.

    Written from this process into the running server's WAL-mode file (SQLite locks across
    processes); the worker finds them at its next poll, as it would a burst of events.
    """
    from datasette_internal_webhooks import events, store_deliveries

    conn = sqlite3.connect(internal_path)
    (endpoint_id,) = conn.execute(
        f"select id from {ENDPOINTS} where config_key = 'bench'"
    ).fetchone()
    now = time.time()
    data = {"database": "hooks", "table": "events_in", "num_rows": 1}
    messages = [
        (
            events.new_message_id(),
            "insert-rows",
            events.encode_payload("insert-rows", "2026-06-01T10:00:00+00:00", "root", data),
            [endpoint_id],
        )
        for _ in range(count)
    ]
    with conn:
        store_deliveries.enqueue_sql(conn, messages, now)
    conn.close()
    return [payload for _, _, payload, _ in messages]


async def insert_blocks(targets, requests, warmup, receiver, block=25):
    """Sequential inserts to each arm in alternating blocks (``harness.paired_latencies``).

    The plugin sends deliveries in batches when the server is idle, so after each block of the
    subscribed arm ("one") this waits until the receiver got every delivery of that block:
    its delivery work stays within its own arm's time, never lands on the others' requests.
    Returns {name: [ms, ...]}.
    """
    receiver.reset()  # every earlier delivery has arrived: the previous call waited for it
    sent = 0

    def settle(name, count):
        nonlocal sent
        if name == "one":
            sent += count
            receiver.wait(sent)

    return await paired_latencies(targets, requests, warmup, block, after_block=settle)


async def direct_posts(receiver, payloads, concurrency):
    """The ceiling: the same signed POSTs from a bare aiohttp client, no queue, no log."""
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    receiver.reset()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        queue = list(enumerate(payloads))

        async def worker():
            while queue:
                i, payload = queue.pop()
                body = payload.encode()
                message_id, timestamp = f"msg_direct_{i}", str(int(time.time()))
                signed = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, "sha256")
                headers = {
                    "content-type": "application/json",
                    "webhook-id": message_id,
                    "webhook-timestamp": timestamp,
                    "webhook-signature": "v1," + base64.b64encode(signed.digest()).decode(),
                }
                async with session.post(receiver.url + "/hook", data=body, headers=headers) as r:
                    await r.read()

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return arrival_rate(receiver, len(payloads))


def arrival_rate(receiver, count):
    receiver.wait(count)
    stats = receiver.stats()
    return (count - 1) / (stats["last"] - stats["first"])


def insert_event_timings(server):
    """What the server's insert-event probe noted since the last call (bench_routes.py)."""
    return httpx.get(server.url + "/-/bench/insert-event-timings").json()


async def run(ctx):
    requests = ctx.size(full=500, smoke=10)
    samples = ctx.size(full=40, smoke=3)
    backlog = ctx.size(full=3000, smoke=200)
    warmup = ctx.warmup // 2
    receiver = Receiver(ctx.work)
    hook_url = receiver.url + "/hook"
    servers = []

    def spec(name, internal, plugins, subscribed):
        return dict(
            name=name,
            # Every server serves the same two files: the delete-journal one (SQLite's default,
            # the insert figures) and a WAL one (write-to-delivery is measured on both).
            files=[hooks_db(ctx.work / name), hooks_db(ctx.work / name, "hooks_wal", "wal")],
            internal=internal,
            plugins=plugins,
            config=plugin_config(hook_url, subscribed) if plugins else None,
            args=["--root"],
        )

    def inserts(server, path=INSERT_PATH):
        return Target(
            server.url,
            [path],
            method="POST",
            json_body={"row": {"value": "bench"}},
            cookies={"ds_actor": server.cookies_for("root")["ds_actor"]},
            expect=(201,),
        )

    try:
        servers = launch_many(
            ctx.work,
            [
                spec("webhooks", ctx.large_internal, [PLUGIN], True),
                spec("webhooks-none", ctx.copy_empty("webhooks-none"), [PLUGIN], False),
                spec("webhooks-core", ctx.copy_empty("webhooks-core"), [], False),
                {
                    **spec("webhooks-alone", ctx.work / "webhooks-alone.db", None, False),
                    "env": {"BENCH_INSERT_EVENT_PROBE": "1"},
                },
            ],
        )
        subscribed, unsubscribed, core_only, alone = servers
        # Blocks of 25 requests, not single ones: the subscribed server's deliveries follow its
        # inserts and must not land on the other servers' measurements.
        arms = {
            "one": inserts(subscribed),
            "none": inserts(unsubscribed),
            "core": inserts(core_only),
        }
        insert_ms = await rounds_of(
            ctx.rounds, lambda: insert_blocks(arms, requests, warmup, receiver)
        )
        receiver.reset()
        delivered = 0
        # Both journal modes of the data file in the same rounds, alternating write by write.
        modes = {"delete": inserts(subscribed), "wal": inserts(subscribed, WAL_INSERT_PATH)}
        write_ms = {mode: [] for mode in modes}
        response_ms = {mode: [] for mode in modes}
        # The floor of write-to-delivery: the same write on Datasette without any plugin.
        alone_insert = inserts(alone, WAL_INSERT_PATH)
        alone_ms = []
        alone_event_ms = []
        insert_event_timings(alone)
        async with (
            client_session(modes["delete"], 1) as session,
            client_session(alone_insert, 1) as alone_session,
        ):
            for round_index in range(ctx.rounds):
                round_write = {mode: [] for mode in modes}
                round_response = {mode: [] for mode in modes}
                round_alone = []
                for sample in range(2 * samples):
                    mode = alternating(list(modes), round_index + sample)[0]
                    started = time.time()
                    round_response[mode].append(1000 * await one_request(session, modes[mode], 0))
                    delivered += 1
                    round_write[mode].append(1000 * (receiver.wait(delivered) - started))
                    if mode == "wal":
                        round_alone.append(1000 * await one_request(alone_session, alone_insert, 0))
                for mode in modes:
                    write_ms[mode].append(round_write[mode])
                    response_ms[mode].append(round_response[mode])
                alone_ms.append(round_alone)
                alone_event_ms.append(insert_event_timings(alone)["event_ms"])
        # The ceiling arm replays the payloads of the latest backlog (each round's first arm
        # alternates, but round one starts with the worker).
        latest = {}

        async def drain():
            receiver.reset()
            latest["payloads"] = enqueue_backlog(ctx.large_internal, backlog)
            return arrival_rate(receiver, backlog)

        async def direct():
            return await direct_posts(receiver, latest["payloads"], 16)

        # Twice the rounds: this machine's delivery rate drifts between ~3,300 and ~5,500/s
        # within minutes for both arms alike (helper-33: 22 rotated rounds per arm to tell a
        # 10% change apart), and a round is only a few seconds.
        rates = await interleave(2 * ctx.rounds, {"worker": drain, "direct": direct})
        memory = {
            name: peak_rss_mib(server)
            for name, server in zip(("one", "none", "core"), servers[:3], strict=True)
        }
    finally:
        for server in servers:
            server.stop()
        receiver.stop()

    p50 = {
        name: [percentile(values, 50) for values in rounds] for name, rounds in insert_ms.items()
    }
    overhead = ratios(p50["one"], p50["none"])
    write_p50 = {mode: [percentile(v, 50) for v in rounds] for mode, rounds in write_ms.items()}
    response_p50 = {
        mode: [percentile(v, 50) for v in rounds] for mode, rounds in response_ms.items()
    }
    alone_p50 = [percentile(values, 50) for values in alone_ms]
    alone_event_p50 = [percentile(values, 50) for values in alone_event_ms]
    after_response_p50 = [
        percentile([w - r for w, r in zip(writes, responses, strict=True)], 50)
        for writes, responses in zip(write_ms["delete"], response_ms["delete"], strict=True)
    ]
    core_p50 = statistics.median(p50["core"])
    delivery_ratio = ratios(rates["worker"], rates["direct"])
    return [
        figure(
            "webhooks.deliveries",
            f"Webhooks: deliveries/s to a local receiver (backlog of {backlog:,}, "
            f"{log_size(ctx):,}-row delivery log)",
            unit="deliveries/s",
            values=rates["worker"],
            baseline="same signed POSTs from a bare aiohttp client, 16 connections",
            baseline_values=rates["direct"],
            ratio_values=delivery_ratio,
            goal="ratio >= 0.80",
            met=statistics.median(delivery_ratio) >= 0.80,
            notes="backlog enqueued with the plugin's own `enqueue_sql` into the running server's "
            "internal DB, then timed at the receiver from the first to the last arrival; each "
            "delivery also writes its attempt to the log. Like for like: each arm is one process "
            "(the Datasette server; the driver) holding 16 kept-alive connections (the plugin's "
            "default concurrency_per_endpoint), the same payloads and signature headers, and the "
            "receiver does the same work per delivery in both (its waiter is woken only at its "
            "count; it used to be woken by every arrival, in the plugin's arm only). Twice the "
            "other figures' rounds: both arms' rates drift together by over 1.5x within minutes "
            "on this machine, and a round takes seconds.",
        ),
        figure(
            "webhooks.insert_overhead",
            "Webhooks: `/-/insert` latency with one subscribed endpoint vs none, median",
            unit="ms",
            values=p50["one"],
            baseline="same plugin, no endpoint",
            baseline_values=p50["none"],
            ratio_values=overhead,
            goal="ratio <= 1.05",
            met=statistics.median(overhead) <= 1.05,
            notes=f"{requests} sequential one-row inserts per round as root, in blocks of 25 "
            "per arm; the subscribed server delivers each event to the receiver, and the next "
            "block starts only once every delivery of its block arrived. Twenty blocks per arm "
            "(500 a round, was 250): the plugin's part is a few percent, one block's swing on "
            "two cores is more, and 250 a round gave round ratios from 1.006 to 1.173.",
        ),
        figure(
            "webhooks.insert_vs_no_plugin",
            "Webhooks: `/-/insert` latency with one subscribed endpoint vs plugin not installed",
            unit="ms",
            values=p50["one"],
            baseline="core only",
            baseline_values=p50["core"],
            ratio_values=ratios(p50["one"], p50["core"]),
            goal="reported",
            met=None,
        ),
        figure(
            "webhooks.write_to_delivery",
            "Webhooks: write-to-delivery latency (`/-/insert` sent to receiver got it), p50",
            unit="ms",
            values=write_p50["delete"],
            baseline="`/-/insert` response time of the same writes, p50",
            baseline_values=response_p50["delete"],
            ratio_values=ratios(write_p50["delete"], response_p50["delete"]),
            goal="reported (p50 <= 10 ms is judged on the WAL row)",
            met=None,
            notes=f"{samples} writes per round to a data file in SQLite's default delete-journal "
            "mode (synchronous=FULL), one at a time, each waiting for its delivery, alternating "
            "write by write with webhooks.write_to_delivery_wal. It cannot go below the write "
            "itself: the same `/-/insert` on a server without the plugin takes "
            f"{core_p50:.1f} ms p50 here (webhooks.insert_vs_no_plugin, core only); the "
            "plugin's own part is webhooks.delivery_after_response.",
        ),
        figure(
            "webhooks.write_to_delivery_wal",
            "Webhooks: write-to-delivery latency, data file in WAL mode, p50",
            unit="ms",
            values=write_p50["wal"],
            baseline="`/-/insert` response time of the same writes, p50",
            baseline_values=response_p50["wal"],
            ratio_values=ratios(write_p50["wal"], response_p50["wal"]),
            goal="p50 <= 10 ms",
            met=statistics.median(write_p50["wal"]) <= 10,
            notes=f"The issue's goal is judged on this row: the same server, endpoint and "
            f"receiver as webhooks.write_to_delivery, {samples} writes per round alternating "
            "with it, to a second data file in WAL mode (as many production Datasettes run; "
            "Datasette keeps the file's own journal mode and SQLite's default synchronous=FULL). "
            "In delete-journal mode the write's own commit fsyncs the journal and the file: "
            "`/-/insert` alone takes "
            f"{statistics.median(response_p50['delete']):.1f} ms p50 there, "
            f"{statistics.median(response_p50['wal']):.1f} ms here (with the plugin), and "
            f"{core_p50:.1f} ms on a server without the plugin (delete-journal).",
        ),
        figure(
            "webhooks.write_to_delivery_wal_vs_datasette",
            "Webhooks: write-to-delivery, WAL data file, p50, vs Datasette's own `/-/insert`",
            unit="ms",
            values=write_p50["wal"],
            baseline="Datasette alone (no installed plugin loads): the same `/-/insert` to the "
            "same kind of WAL file, response time p50",
            baseline_values=alone_p50,
            ratio_values=ratios(write_p50["wal"], alone_p50),
            goal="reported (the floor under the 10 ms goal)",
            met=None,
            notes="One write to the Datasette-alone server right after each WAL write of "
            "webhooks.write_to_delivery_wal, in the same rounds. A ratio near 1 means the "
            "delivery arrives about when Datasette alone would have answered the write.",
        ),
        figure(
            "webhooks.insert_event_in_datasette",
            "Webhooks: when Datasette alone fires the `insert-rows` event of a `/-/insert`, "
            "counted in-server from the request's arrival, p50",
            unit="ms",
            values=alone_event_p50,
            goal="reported (no plugin can deliver a write before this moment)",
            met=None,
            notes="the Datasette-alone server of webhooks.write_to_delivery_wal_vs_datasette, "
            "its WAL writes in the same rounds, with the bench plugins_dir's probe "
            "(BENCH_INSERT_EVENT_PROBE=1: an ASGI wrapper notes each `/-/insert`'s arrival, a "
            "`track_event` hook the moment of its event). Datasette runs the write and its "
            "permission checks before firing the event, so write-to-delivery seen from the "
            "client is at least this plus the request's way in and the delivery's way out.",
        ),
        figure(
            "webhooks.delivery_after_response",
            "Webhooks: the plugin's own part of write-to-delivery: delivery arrival minus the "
            "`/-/insert` response, p50",
            unit="ms",
            values=after_response_p50,
            goal="reported",
            met=None,
            notes="per write of webhooks.write_to_delivery: when the receiver got the delivery "
            "minus when the driver got the write's response (the same clock); below zero, the "
            "delivery arrived first.",
        ),
        memory_figure(
            "webhooks.rss",
            "core + webhooks with one endpoint, after all the webhooks runs",
            memory["one"],
            "core only after the same inserts",
            memory["core"],
        ),
    ]
