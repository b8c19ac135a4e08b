"""The outbox journal and the yielding of webhook work to requests being answered."""

import json
import time

from conftest import create_endpoint, eventually, idle, root_cookies, shutdown
from datasette_internal_db import get_internal_db
from datasette_internal_webhooks import activity
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


async def test_event_is_journaled_before_track_event_returns(ds, receiver, tmp_path, monkeypatch):
    endpoint, _ = await create_endpoint(ds, receiver.url, event_types=["insert-rows"])
    state = get_state(ds)
    # A request being answered throughout, and no limit to yielding to it: the commit waits
    # (until idle() asks for it), so the journal is all that holds the message.
    monkeypatch.setattr(activity, "MAX_YIELD", 3600)
    state.activity.in_flight += 1
    try:
        await ds.client.post(
            "/data/species/-/insert", json={"row": {"name": "b"}}, cookies=root_cookies(ds)
        )
        [entry] = [json.loads(text) for text in journal_of(tmp_path).read_text().splitlines()]
        assert entry[1] == "insert-rows" and entry[3] == [endpoint["id"]]
        assert entry[0] not in await stored_message_ids(ds)
    finally:
        state.activity.in_flight -= 1
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


async def test_deliveries_yield_to_requests_but_at_most_max_yield(ds, receiver):
    await create_endpoint(ds, receiver.url, event_types=["insert-rows"])
    state = get_state(ds)
    state.activity.in_flight += 1  # as if a long request were being answered throughout
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
        state.activity.in_flight -= 1
    # Idle: the next one goes as soon as the request that caused it has ended.
    await ds.client.post(
        "/data/species/-/insert", json={"row": {"name": "e"}}, cookies=root_cookies(ds)
    )
    await eventually(lambda: len(receiver.received) == 2, "the second delivery")
