"""The outbox journal, deliveries yielding to requests, and batched outcome writes."""

import asyncio
import json
import os
import threading
import time

from conftest import create_endpoint, eventually, idle, root_cookies, shutdown
from datasette import hookimpl
from datasette.tracer import capture_traces
from datasette_internal_db import get_internal_db
from datasette_internal_webhooks import activity, store_deliveries, worker
from datasette_internal_webhooks.activity import MAX_YIELD
from datasette_internal_webhooks.events import TEST_EVENT, encode_payload
from datasette_internal_webhooks.state import get_state


def journal_of(tmp_path):
    return tmp_path / "internal.db-webhooks-outbox"


async def stored_message_ids(datasette):
    rows = await get_internal_db(datasette).execute(
        "select id from datasette_internal_webhooks_messages"
    )
    return {row["id"] for row in rows}


async def test_journal_left_by_a_crash_is_replayed_at_startup(make_ds, receiver, tmp_path):
    ds = await make_ds()
    endpoint, _ = await create_endpoint(ds, receiver.url, event_types=["insert-rows"])
    await ds.client.post(
        "/data/species/-/insert", json={"row": {"name": "a"}}, cookies=root_cookies(ds)
    )
    await idle(ds)
    [first] = receiver.wait_for(1)
    delivered_id = first["headers"]["webhook-id"]
    await shutdown(ds)
    assert not journal_of(tmp_path).exists(), "a clean shutdown leaves no journal"

    def line(message_id, endpoint_ids):
        payload = encode_payload(TEST_EVENT, "2026-01-01T00:00:00+00:00", None, {"n": message_id})
        return json.dumps([message_id, TEST_EVENT, payload, endpoint_ids]) + "\n"

    # What a SIGKILL can leave: a message committed before its journal was emptied, one that
    # was never committed, one for an endpoint deleted since, and a write cut short.
    journal_of(tmp_path).write_text(
        line(delivered_id, [endpoint["id"]])
        + line("msg_only_in_journal", [endpoint["id"]])
        + line("msg_for_deleted_endpoint", ["ep_deleted"])
        + '["msg_cut_short","webhook-te'
    )
    ds = await make_ds()
    # idle: every recovered message committed, and every delivery due sent and its outcome
    # written, so whatever the receiver got is all it will ever get from the journal.
    await idle(ds)
    assert [r["headers"]["webhook-id"] for r in receiver.received] == [
        delivered_id,
        "msg_only_in_journal",
    ]
    assert {"msg_only_in_journal", "msg_for_deleted_endpoint"} <= await stored_message_ids(ds)
    assert "msg_cut_short" not in await stored_message_ids(ds)
    deliveries = await get_internal_db(ds).execute(
        "select count(*) from datasette_internal_webhooks_deliveries"
        " where message_id = 'msg_for_deleted_endpoint'"
    )
    assert deliveries.first()[0] == 0
    assert journal_of(tmp_path).read_bytes() == b"", "emptied once everything is committed"


def hold_outbox_commits(monkeypatch):
    """Outbox commits wait until the returned event is set."""
    release = asyncio.Event()
    enqueue = store_deliveries.enqueue

    async def held_enqueue(*args):
        await release.wait()
        return await enqueue(*args)

    monkeypatch.setattr(store_deliveries, "enqueue", held_enqueue)
    return release


async def test_event_is_journaled_before_track_event_returns(ds, receiver, tmp_path, monkeypatch):
    endpoint, _ = await create_endpoint(ds, receiver.url, event_types=["insert-rows"])
    # The commit is held back until released: the journal is all that holds the message.
    release = hold_outbox_commits(monkeypatch)
    await ds.client.post(
        "/data/species/-/insert", json={"row": {"name": "b"}}, cookies=root_cookies(ds)
    )
    [entry] = [json.loads(text) for text in journal_of(tmp_path).read_text().splitlines()]
    assert entry[1] == "insert-rows" and entry[3] == [endpoint["id"]]
    assert entry[0] not in await stored_message_ids(ds)
    release.set()
    await idle(ds)
    assert entry[0] in await stored_message_ids(ds)
    assert journal_of(tmp_path).read_bytes() == b""


async def test_without_durable_enqueue_there_is_no_journal(make_ds, receiver, tmp_path):
    ds = await make_ds({"durable_enqueue": False})
    await create_endpoint(ds, receiver.url, event_types=["insert-rows"])
    await ds.client.post(
        "/data/species/-/insert", json={"row": {"name": "c"}}, cookies=root_cookies(ds)
    )
    await idle(ds)
    receiver.wait_for(1)
    assert not journal_of(tmp_path).exists()


async def test_a_temporary_internal_db_gets_no_journal(make_ds, receiver):
    """Without --internal, Datasette deletes its temporary internal DB at exit; a journal
    beside it would be left behind in the temp folder by every such run."""
    ds = await make_ds(internal=None)
    await create_endpoint(ds, receiver.url, event_types=["insert-rows"])
    await ds.client.post(
        "/data/species/-/insert", json={"row": {"name": "t"}}, cookies=root_cookies(ds)
    )
    await idle(ds)
    receiver.wait_for(1)
    internal_path = get_internal_db(ds).path
    assert internal_path, "Datasette's temporary internal DB is a file"
    assert not os.path.exists(f"{internal_path}-webhooks-outbox")


class WaitsForTheDelivery:
    """A track_event hook run after the webhooks plugin's: the insert's response is not sent
    until the receiver got the delivery of its event (or gave up waiting)."""

    def __init__(self, receiver):
        self.receiver = receiver
        self.delivered_during_request = False

    @hookimpl(trylast=True)
    async def track_event(self, datasette, event):
        if event.name == "insert-rows":
            try:
                await eventually(lambda: self.receiver.received, "the delivery")
                self.delivered_during_request = True
            except AssertionError:
                pass


async def test_a_lone_write_is_delivered_while_it_is_answered(ds, receiver, monkeypatch):
    """A request after a pause does not hold its deliveries back: the delivery goes as soon as
    its outbox row is committed, before the write's own response."""
    await create_endpoint(ds, receiver.url, event_types=["insert-rows"])
    monkeypatch.setattr(activity, "MAX_YIELD", 3600)
    await asyncio.sleep(activity.QUIET_PERIOD)  # a pause after the request above
    waiter = WaitsForTheDelivery(receiver)
    ds.pm.register(waiter, name="waits-for-the-delivery")
    try:
        response = await ds.client.post(
            "/data/species/-/insert", json={"row": {"name": "l"}}, cookies=root_cookies(ds)
        )
    finally:
        ds.pm.unregister(name="waits-for-the-delivery")
    assert response.status_code == 201
    assert waiter.delivered_during_request


class SeesTheOutboxAfterTheWebhooksHook:
    """A track_event hook run right after the webhooks plugin's, with no loop step between:
    records whether the delivery had gone early, the journal held the message and the outbox
    commit had started by then."""

    def __init__(self, journal, commits):
        self.journal = journal
        self.commits = commits
        self.seen = None

    @hookimpl(trylast=True)
    async def track_event(self, datasette, event):
        if event.name == "insert-rows":
            self.seen = {
                "sent early": bool(get_state(datasette).worker._early),
                "journaled": self.journal.read_text() != "",
                "commits": len(self.commits),
            }


def record_outbox_commits(monkeypatch):
    """The batches the outbox commits from now on."""
    commits = []
    enqueue = store_deliveries.enqueue

    async def recorded_enqueue(*args):
        commits.append(args[1])
        return await enqueue(*args)

    monkeypatch.setattr(store_deliveries, "enqueue", recorded_enqueue)
    return commits


async def test_a_lone_writes_outbox_commit_does_not_run_during_its_track_event(
    ds, receiver, tmp_path, monkeypatch
):
    """The early delivery's loop steps come before the journal write: the commit task that
    write starts runs after the hook returns, not during those steps (where the write thread
    slowed the write's response). The message is journaled before the hook returns."""
    endpoint, _ = await create_endpoint(ds, receiver.url, event_types=["insert-rows"])
    commits = record_outbox_commits(monkeypatch)
    state = get_state(ds)
    await eventually(lambda: endpoint["id"] in state.worker._endpoints, "the worker's next pass")
    await asyncio.sleep(activity.QUIET_PERIOD)
    sees = SeesTheOutboxAfterTheWebhooksHook(journal_of(tmp_path), commits)
    ds.pm.register(sees, name="sees-the-outbox")
    try:
        response = await ds.client.post(
            "/data/species/-/insert", json={"row": {"name": "o"}}, cookies=root_cookies(ds)
        )
    finally:
        ds.pm.unregister(name="sees-the-outbox")
    assert response.status_code == 201
    assert sees.seen == {"sent early": True, "journaled": True, "commits": 0}
    await idle(ds)
    assert len(commits) == 1
    await eventually(lambda: receiver.received, "the early delivery")
    assert len(receiver.received) == 1


async def lone_insert(ds, endpoint, name):
    """An insert after a pause, once the worker knows ``endpoint``."""
    state = get_state(ds)
    await eventually(lambda: endpoint["id"] in state.worker._endpoints, "the worker's next pass")
    await asyncio.sleep(activity.QUIET_PERIOD)
    response = await ds.client.post(
        "/data/species/-/insert", json={"row": {"name": name}}, cookies=root_cookies(ds)
    )
    assert response.status_code == 201


async def delivery_log(ds, message_id):
    """(status, attempts, last status code) of the message's delivery, and its attempts as
    (delivery id == the delivery's id, status code)."""
    internal = get_internal_db(ds)
    delivery = (
        await internal.execute(
            "select id, status, attempts, last_status_code from"
            " datasette_internal_webhooks_deliveries where message_id = ?",
            [message_id],
        )
    ).first()
    attempts = await internal.execute(
        "select delivery_id, status_code from datasette_internal_webhooks_attempts"
        " where message_id = ?",
        [message_id],
    )
    return tuple(delivery)[1:], [(a[0] == delivery[0], a[1]) for a in attempts]


async def test_a_lone_write_is_delivered_before_its_outbox_commit(ds, receiver, monkeypatch):
    """The journal holds the message, so the delivery need not wait for the commit; its
    outcome is written once the commit gives it its delivery id."""
    endpoint, secret = await create_endpoint(ds, receiver.url, event_types=["insert-rows"])
    receiver.secrets.append(secret)
    release = hold_outbox_commits(monkeypatch)
    await lone_insert(ds, endpoint, "early")
    await eventually(lambda: receiver.received, "the delivery, with the commit held back")
    [request] = receiver.received
    assert request["verified"]
    message_id = request["headers"]["webhook-id"]
    assert message_id not in await stored_message_ids(ds)
    await eventually(
        lambda: get_state(ds).worker._early[(message_id, endpoint["id"])].outcome, "the outcome"
    )
    release.set()
    await idle(ds)
    assert await delivery_log(ds, message_id) == (("succeeded", 1, 200), [(True, 200)])
    assert len(receiver.received) == 1


async def test_a_lone_writes_commit_waits_for_a_quiet_moment_once_it_was_sent_early(
    ds, receiver, monkeypatch
):
    """Its delivery did not wait for the commit, so the commit does not hurry either: it waits,
    like any commit, while the next requests are answered, and goes once Datasette is quiet."""
    monkeypatch.setattr(activity, "MAX_YIELD", 3600)
    endpoint, _ = await create_endpoint(ds, receiver.url, event_types=["insert-rows"])
    state = get_state(ds)
    await state.outbox.committed()
    commits = record_outbox_commits(monkeypatch)
    await lone_insert(ds, endpoint, "quiet commit")
    await asyncio.sleep(0)  # the event loop's turn between a response and the next request
    state.activity.request_started()  # the next request comes at once, and takes long
    try:
        await eventually(lambda: receiver.received, "the early delivery")
        await asyncio.sleep(20 * activity.QUIET_PERIOD)
        assert commits == []
    finally:
        state.activity.request_ended()
    await eventually(lambda: commits, "the commit once Datasette is quiet")
    await idle(ds)
    assert await delivery_statuses(ds) == ["succeeded"]
    assert len(receiver.received) == 1


async def test_an_early_delivery_committed_while_in_flight_is_not_sent_twice(
    ds, receiver, monkeypatch
):
    """The commit lands while the early request waits for its answer (a 503): reads of due
    rows skip it meanwhile, and the failed attempt is logged under its id, retry scheduled."""
    endpoint, _ = await create_endpoint(ds, receiver.url, event_types=["insert-rows"])
    answer = threading.Event()
    receiver.respond = lambda number: (503, {}, answer)
    release = hold_outbox_commits(monkeypatch)
    await lone_insert(ds, endpoint, "in flight")
    await eventually(lambda: receiver.received, "the delivery, with the commit held back")
    message_id = receiver.received[0]["headers"]["webhook-id"]
    release.set()
    await eventually(lambda: get_state(ds).outbox._uncommitted == 0, "the commit")
    worker = get_state(ds).worker
    passes = worker.passes
    worker.wake()
    await eventually(lambda: worker.passes >= passes + 2, "two passes reading due rows")
    answer.set()
    await eventually(lambda: worker.sending() == 0, "the outcome written")
    assert await delivery_log(ds, message_id) == (("pending", 1, 503), [(True, 503)])
    assert len(receiver.received) == 1


async def test_deliveries_yield_to_requests_but_at_most_max_yield(ds, receiver):
    await create_endpoint(ds, receiver.url, event_types=["insert-rows"])
    state = get_state(ds)
    state.activity.request_started()  # as if a long request were being answered throughout
    try:
        started = time.monotonic()
        await ds.client.post(
            "/data/species/-/insert", json={"row": {"name": "d"}}, cookies=root_cookies(ds)
        )
        await eventually(lambda: len(receiver.received) == 1, "the delivery")
        # Held back while Datasette is busy, but sent anyway once it waited MAX_YIELD. (A lower
        # bound: a slow machine only makes it larger.)
        assert time.monotonic() - started >= MAX_YIELD
    finally:
        state.activity.request_ended()
    # Idle: the next one goes as soon as the request that caused it has ended.
    await ds.client.post(
        "/data/species/-/insert", json={"row": {"name": "e"}}, cookies=root_cookies(ds)
    )
    await eventually(lambda: len(receiver.received) == 2, "the second delivery")


async def test_held_work_waits_for_the_request_to_end_without_polling(ds, receiver, monkeypatch):
    """While a request is being answered, the held outbox commit, deliveries and outcome write
    sleep until Datasette becomes quiet: nothing wakes every QUIET_PERIOD to look again (such
    wake-ups land on the requests they yield to)."""
    monkeypatch.setattr(activity, "MAX_YIELD", 3600)
    monkeypatch.setattr(worker, "OUTCOME_MAX_YIELD", 3600)
    await create_endpoint(ds, receiver.url, event_types=["insert-rows"])
    state = get_state(ds)
    looks = []
    quiet_for = state.activity.quiet_for
    monkeypatch.setattr(state.activity, "quiet_for", lambda: looks.append(1) or quiet_for())

    async def looks_meanwhile():
        await asyncio.sleep(2 * activity.QUIET_PERIOD)  # whatever waits has started waiting
        looks.clear()
        await asyncio.sleep(20 * activity.QUIET_PERIOD)
        return len(looks)

    state.activity.request_started()  # as if a long request were being answered throughout
    try:
        await ds.client.post(
            "/data/species/-/insert", json={"row": {"name": "p"}}, cookies=root_cookies(ds)
        )
        assert await looks_meanwhile() == 0  # the outbox commit waits
        assert state.outbox._uncommitted == 1
        await state.outbox.committed()  # its rows go to the worker, which holds them
        assert await looks_meanwhile() == 0
        assert receiver.received == []
    finally:
        state.activity.request_ended()
    await eventually(lambda: receiver.received, "the delivery once the request ended")
    await eventually(lambda: not state.worker.sending(), "the outcome's write")
    assert await delivery_statuses(ds) == ["succeeded"]


def record_own_outcome_writes(monkeypatch):
    """The worker's own outcome writes (their batch sizes), with OUTCOME_WRITE_INTERVAL so long
    that one happens only when a test asks (``idle``)."""
    monkeypatch.setattr(worker, "OUTCOME_WRITE_INTERVAL", 3600)
    batches = []
    record_outcomes = store_deliveries.record_outcomes

    async def recorded(datasette, outcomes, *args):
        batches.append(len(outcomes))
        return await record_outcomes(datasette, outcomes, *args)

    monkeypatch.setattr(store_deliveries, "record_outcomes", recorded)
    return batches


async def test_outcomes_are_written_in_batches(make_ds, receiver, monkeypatch):
    """One write (one transaction) for the attempts of several deliveries, none lost: until the
    batch is written their rows stay pending."""
    batches = record_own_outcome_writes(monkeypatch)
    ds = await make_ds()
    for _ in range(2):  # one event, two deliveries
        await create_endpoint(ds, receiver.url, event_types=["insert-rows"])
    await ds.client.post(
        "/data/species/-/insert", json={"row": {"name": "f"}}, cookies=root_cookies(ds)
    )
    await eventually(lambda: len(receiver.received) == 2, "both deliveries")
    state = get_state(ds)
    await eventually(lambda: len(state.worker._outcomes) == 2, "both outcomes")
    assert batches == []
    pending = await get_internal_db(ds).execute(
        "select count(*) from datasette_internal_webhooks_deliveries where status = 'pending'"
    )
    assert pending.single_value() == 2
    await idle(ds)  # asks for the write without waiting for the batch
    assert batches == [2]


async def test_a_batch_of_outcomes_is_one_statement_per_table(ds, receiver):
    """Outcomes are written with one statement per table whatever the batch size (the write
    thread takes the GIL back once per statement, not per row, so the event loop does not take
    turns with it hundreds of times), and each delivery gets exactly its own outcome."""
    endpoint, _ = await create_endpoint(ds, receiver.url, event_types=["insert-rows"])
    await get_state(ds).outbox.committed()
    now = time.time()
    messages = [
        (f"msg_batch_{i}", "insert-rows", json.dumps({"n": i}), [endpoint["id"]]) for i in range(40)
    ]
    internal = get_internal_db(ds)
    due = await internal.execute_write_fn(
        lambda conn: store_deliveries.enqueue_sql(conn, messages, now + 3600)
    )
    outcomes = [
        {
            "delivery_id": delivery_id,
            "message_id": message_id,
            "endpoint_id": endpoint_id,
            "attempted_at": now + i,
            "status_code": 200 if i % 2 else 503,
            "latency_ms": 1.5 + i,
            "response_body": 'é "quoted" \\ ' * i,
            "error": None if i % 2 else "HTTP 503",
            "succeeded": i % 2,
            "next_attempt_at": None if i % 2 else now + 60 + i,
            "gone": False,
        }
        for i, (delivery_id, message_id, endpoint_id, _, _) in enumerate(due)
    ]
    statements = []

    def record(conn):
        conn.set_trace_callback(statements.append)
        try:
            return store_deliveries._record_outcomes(conn, outcomes, now, 3600)
        finally:
            conn.set_trace_callback(None)

    await internal.execute_write_fn(record)
    assert len(statements) <= 8  # executemany traced one statement per row: 80 and more
    rows = await internal.execute(
        "select d.id, d.status, d.attempts, d.next_attempt_at, d.last_status_code, d.last_error,"
        " a.attempted_at, a.latency_ms, a.response_body, a.succeeded from"
        " datasette_internal_webhooks_deliveries d join datasette_internal_webhooks_attempts a"
        " on a.delivery_id = d.id where d.message_id like 'msg_batch_%' order by d.id"
    )
    assert [tuple(row) for row in rows] == [
        (
            o["delivery_id"],
            "succeeded" if o["succeeded"] else "pending",
            1,
            o["next_attempt_at"],
            o["status_code"],
            o["error"],
            o["attempted_at"],
            o["latency_ms"],
            o["response_body"],
            o["succeeded"],
        )
        for o in outcomes
    ]


async def enqueue_directly(datasette, endpoint_id, count, prefix):
    """``count`` due deliveries written straight to the outbox tables (no event, no request)."""
    now = time.time()
    messages = [
        (f"{prefix}_{i}", "insert-rows", json.dumps({"n": i}), [endpoint_id]) for i in range(count)
    ]
    return await get_internal_db(datasette).execute_write_fn(
        lambda conn: store_deliveries.enqueue_sql(conn, messages, now)
    )


async def test_a_read_of_due_rows_leaves_out_the_rows_the_worker_holds(ds):
    """Rows already queued, in flight or awaiting their outcome's write are left out by SQLite,
    so they are neither joined nor encoded again, and the limit counts only the others."""
    endpoint, _ = await create_endpoint(ds, "http://127.0.0.1:9/hook", event_types=["insert-rows"])
    # Disabled: the worker sends nothing, so the rows stay pending and due.
    await get_internal_db(ds).execute_write(
        "update datasette_internal_webhooks_endpoints set active = 0 where id = ?",
        [endpoint["id"]],
    )
    await get_state(ds).reload_endpoints()
    due = await enqueue_directly(ds, endpoint["id"], 5, "msg_claimed")
    ids = [row[0] for row in due]
    rows = await store_deliveries.due_deliveries(
        ds, {endpoint["id"]: 2}, time.time() + 1, claimed={ids[0], ids[2]}
    )
    assert rows == [tuple(due[1]), tuple(due[3])]


async def test_outcomes_wait_longer_while_a_backlog_drains(make_ds, receiver, monkeypatch):
    """While rows wait in the worker's queues, finished attempts wait past
    OUTCOME_WRITE_INTERVAL (up to OUTCOME_DRAIN_INTERVAL) so that one write records many; once
    the queues are empty the usual interval applies."""
    monkeypatch.setattr(worker, "OUTCOME_WRITE_INTERVAL", 0.01)
    monkeypatch.setattr(worker, "OUTCOME_DRAIN_INTERVAL", 3600)
    monkeypatch.setattr(worker, "OUTCOME_MAX_YIELD", 3600)
    release = threading.Event()
    receiver.respond = lambda number: (200, {}, release if number == 1 else 0)
    ds = await make_ds({"concurrency_per_endpoint": 1})
    endpoint, _ = await create_endpoint(ds, receiver.url, event_types=["insert-rows"])
    state = get_state(ds)
    await state.outbox.committed()
    try:
        await enqueue_directly(ds, endpoint["id"], 3, "msg_backlog")
        state.worker.wake()
        # The first is answered, the second held by the receiver, the third still queued.
        await eventually(lambda: len(receiver.received) == 2, "two requests")
        await eventually(lambda: state.worker._outcomes, "the first outcome")
        await asyncio.sleep(20 * worker.OUTCOME_WRITE_INTERVAL)
        assert await delivery_statuses(ds) == ["pending"] * 3
    finally:
        release.set()
    await eventually(lambda: len(receiver.received) == 3, "the third request")
    await eventually(lambda: not state.worker.sending(), "the outcomes' write")
    assert await delivery_statuses(ds) == ["succeeded"] * 3


async def delivery_statuses(datasette):
    rows = await get_internal_db(datasette).execute(
        "select status from datasette_internal_webhooks_deliveries order by id"
    )
    return [row["status"] for row in rows]


async def test_an_outbox_commit_records_the_outcomes_waiting_to_be_written(
    make_ds, receiver, monkeypatch
):
    """One write for both: the next event's outbox commit takes along the outcomes that wait,
    and the worker has none left to write on its own."""
    own_writes = record_own_outcome_writes(monkeypatch)
    ds = await make_ds()
    await create_endpoint(ds, receiver.url, event_types=["insert-rows"])
    state = get_state(ds)
    await ds.client.post(
        "/data/species/-/insert", json={"row": {"name": "h"}}, cookies=root_cookies(ds)
    )
    await eventually(lambda: len(state.worker._outcomes) == 1, "the first outcome")
    await state.outbox.committed()
    assert await delivery_statuses(ds) == ["pending"]
    await ds.client.post(
        "/data/species/-/insert", json={"row": {"name": "i"}}, cookies=root_cookies(ds)
    )
    await state.outbox.committed()
    assert (await delivery_statuses(ds))[0] == "succeeded"
    assert own_writes == []
    await idle(ds)
    assert await delivery_statuses(ds) == ["succeeded", "succeeded"]


async def test_outcomes_wait_while_requests_come_back_to_back(make_ds, receiver, monkeypatch):
    """Past OUTCOME_WRITE_INTERVAL an outcome still waits while requests are being answered,
    and is written once Datasette has a quiet moment."""
    monkeypatch.setattr(worker, "OUTCOME_WRITE_INTERVAL", 0.01)
    monkeypatch.setattr(worker, "OUTCOME_MAX_YIELD", 3600)
    ds = await make_ds()
    await create_endpoint(ds, receiver.url, event_types=["insert-rows"])
    state = get_state(ds)
    await ds.client.post(
        "/data/species/-/insert", json={"row": {"name": "j"}}, cookies=root_cookies(ds)
    )
    state.activity.request_started()  # as if a long request were being answered throughout
    try:
        await eventually(lambda: receiver.received, "the delivery")
        await state.outbox.committed()
        await asyncio.sleep(20 * worker.OUTCOME_WRITE_INTERVAL)
        assert await delivery_statuses(ds) == ["pending"]
    finally:
        state.activity.request_ended()
    await eventually(lambda: not state.worker.sending(), "the outcome's write")
    assert await delivery_statuses(ds) == ["succeeded"]


async def test_reads_by_status_use_the_partial_index_of_that_status(ds):
    """SQLite does not know how small the pending and failed indexes are: left to itself it walks
    every delivery of the endpoint to find a status few of them have (migration m003)."""
    endpoint, _ = await create_endpoint(ds, "http://127.0.0.1:9/hook", event_types=["insert-rows"])
    await enqueue_directly(ds, endpoint["id"], 3, "msg_planned")
    internal = get_internal_db(ds)
    traces = []
    with capture_traces(traces):
        await store_deliveries.list_deliveries(ds, endpoint["id"], status="pending")
        await store_deliveries.list_deliveries(ds, endpoint["id"], status="failed")
        await store_deliveries.list_deliveries(ds, endpoint["id"], status="succeeded")
        await store_deliveries.failed_delivery_ids(ds, 0)
        await store_deliveries.count_failed_since(ds, 0, endpoint["id"])
    plans = []
    for traced in traces:
        steps = await internal.execute(f"explain query plan {traced['sql']}", traced["params"])
        plans.append(" ".join(step["detail"] for step in steps))
    deliveries = "datasette_internal_webhooks_deliveries"
    expected = ["pending", "failed", "endpoint", "failed", "failed"]
    assert len(plans) == len(expected)
    for plan, index in zip(plans, expected, strict=True):
        assert f"USING INDEX {deliveries}_{index} " in plan + " ", plan


async def test_delivery_counts_per_endpoint_and_status(ds):
    """Pending and failed rows are counted in their partial indexes, succeeded ones are the rest
    of the endpoint's rows; a status with no rows is left out."""
    first, _ = await create_endpoint(ds, "http://127.0.0.1:9/a", event_types=["insert-rows"])
    second, _ = await create_endpoint(ds, "http://127.0.0.1:9/b", event_types=["insert-rows"])
    await enqueue_directly(ds, first["id"], 6, "msg_first")
    await enqueue_directly(ds, second["id"], 2, "msg_second")
    assert await store_deliveries.delivery_counts(ds) == {
        first["id"]: {"pending": 6},
        second["id"]: {"pending": 2},
    }
    await get_internal_db(ds).execute_write(
        "update datasette_internal_webhooks_deliveries set status = case"
        " when message_id in ('msg_first_0', 'msg_first_1', 'msg_first_2') then 'succeeded'"
        " when message_id = 'msg_first_3' then 'failed' else 'succeeded' end,"
        " next_attempt_at = null where message_id != 'msg_first_5'"
    )
    assert await store_deliveries.delivery_counts(ds) == {
        first["id"]: {"succeeded": 4, "failed": 1, "pending": 1},
        second["id"]: {"succeeded": 2},
    }
