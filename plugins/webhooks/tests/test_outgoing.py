import asyncio
import base64
import json
import re
import sqlite3
import time

from conftest import (
    audit_actions,
    create_endpoint,
    eventually,
    idle,
    root_cookies,
    signed_by,
)
from datasette_internal_db import get_internal_db
from datasette_internal_webhooks.events import new_message_id
from datasette_internal_webhooks.state import get_state
from datasette_internal_webhooks.worker import (
    RETRY_DELAYS,
    parse_retry_after,
    retry_delay,
)


async def insert(ds, name, table="species"):
    response = await ds.client.post(
        f"/data/{table}/-/insert", json={"row": {"name": name}}, cookies=root_cookies(ds)
    )
    assert response.status_code == 201, response.text
    return response.json()


async def get_json(ds, path):
    response = await ds.client.get(path, cookies=root_cookies(ds))
    assert response.status_code == 200, response.text
    return response.json()


async def deliveries(ds, endpoint_id):
    return (await get_json(ds, f"/-/webhooks/api/endpoints/{endpoint_id}/deliveries"))["deliveries"]


async def attempts(ds, endpoint_id):
    return (await get_json(ds, f"/-/webhooks/api/endpoints/{endpoint_id}/attempts"))["attempts"]


async def test_insert_is_delivered_signed_and_verifiable(ds, receiver):
    endpoint, secret = await create_endpoint(ds, receiver.url, event_types=["insert-rows"])
    assert secret.startswith("whsec_")
    receiver.secrets = [secret]
    await insert(ds, "badger")
    await idle(ds)
    [request] = receiver.wait_for(1)
    assert request["verified"] is True
    assert request["headers"]["webhook-id"].startswith("msg_")
    payload = json.loads(request["body"])
    assert payload["type"] == "insert-rows"
    assert payload["actor_id"] == "root"
    assert payload["data"] == {
        "database": "data",
        "table": "species",
        "num_rows": 1,
        "ignore": False,
        "replace": False,
    }
    [delivery] = await deliveries(ds, endpoint["id"])
    assert delivery["status"] == "succeeded"
    assert delivery["attempts"] == 1
    [attempt] = await attempts(ds, endpoint["id"])
    assert attempt["status_code"] == 200
    assert attempt["response_body"] == "status 200"
    assert attempt["latency_ms"] > 0


async def delivered_update(ds, receiver, row_path, update):
    """The payload an update-row endpoint gets when ``update`` is made to the row ``row_path``."""
    await create_endpoint(ds, receiver.url, event_types=["update-row"])
    response = await ds.client.post(
        f"{row_path}/-/update", json={"update": update}, cookies=root_cookies(ds)
    )
    assert response.status_code == 200, response.text
    await idle(ds)
    [request] = receiver.wait_for(1)
    return json.loads(request["body"])


async def test_update_row_carries_the_row_after_the_update(ds, receiver):
    payload = await delivered_update(ds, receiver, "/data/species/1", {"name": "sea otter"})
    assert payload["type"] == "update-row"
    assert payload["data"]["pks"] == ["1"]
    assert payload["data"]["row"] == {"id": 1, "name": "sea otter"}


async def test_wildcards_and_filters_choose_endpoints(ds, receiver):
    await create_endpoint(ds, receiver.url + "?all", event_types=["*"])
    await create_endpoint(ds, receiver.url + "?rows", event_types=["*-rows"], table="other")
    await insert(ds, "species row")
    await insert(ds, "other row", table="other")
    await idle(ds)
    requests = receiver.wait_for(3)
    await idle(ds)
    assert len(receiver.received) == 3
    by_endpoint = sorted((r["query"], json.loads(r["body"])["data"]["table"]) for r in requests)
    assert by_endpoint == [("all", "other"), ("all", "species"), ("rows", "other")]


async def test_same_message_to_two_endpoints_shares_its_webhook_id(ds, receiver):
    await create_endpoint(ds, receiver.url + "?a", event_types=["insert-rows"])
    await create_endpoint(ds, receiver.url + "?b", event_types=["insert-rows"])
    await insert(ds, "heron")
    await idle(ds)
    first, second = receiver.wait_for(2)
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"]


def test_message_ids_sort_in_the_order_they_were_made():
    # New keys append to the messages' primary-key index instead of landing on a random page.
    # Ids made within one microsecond share their time part and are in random order between
    # themselves (a fast machine makes several per microsecond): the time part must not go back.
    ids = [new_message_id() for _ in range(200)]
    times = [message_id[4:18] for message_id in ids]
    assert times == sorted(times)
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"msg_[0-9a-f]{14}[A-Za-z0-9_-]{16}", i) for i in ids)


async def test_bad_endpoint_input_is_a_400_and_stores_nothing(ds, receiver):
    cases = [
        {"url": "ftp://127.0.0.1/x"},
        {"url": "not a url"},
        {"url": receiver.url, "event_types": ["no-such-event"]},
        {"url": receiver.url, "event_types": []},
        {"url": receiver.url, "event_types": "*", "colour": "blue"},
        {"url": receiver.url, "description": "x" * 501},
        {"url": "http://user:pw@127.0.0.1/"},
        {"url": 5},
        {"url": None},
        {"url": receiver.url, "event_types": [1]},
        {"url": receiver.url, "event_types": {"a": 1}},
        {"url": receiver.url, "database": 5},
        {"url": receiver.url, "table": ["x"]},
        {"url": receiver.url, "active": "yes"},
        {"url": receiver.url + "x" * 2000},
        {"url": "http://127.0.0.1:99999/"},
        {"url": "http://[::1/"},
    ]
    for body in cases:
        response = await ds.client.post(
            "/-/webhooks/api/endpoints", json=body, cookies=root_cookies(ds)
        )
        assert response.status_code == 400, (body, response.text)
        assert response.json()["ok"] is False
    response = await ds.client.post(
        "/-/webhooks/api/endpoints", content=b"[1", cookies=root_cookies(ds)
    )
    assert response.status_code == 400
    assert (await get_json(ds, "/-/webhooks/api/endpoints"))["endpoints"] == []


async def test_event_types_are_discovered_from_datasette(ds):
    names = (await get_json(ds, "/-/webhooks/api/event-types"))["event_types"]
    assert {"insert-rows", "update-row", "delete-row", "create-table", "webhook-received"} <= set(
        names
    )
    assert set(names) == {cls.name for cls in ds.event_classes}


async def test_track_event_never_breaks_the_users_write(ds, receiver):
    await create_endpoint(ds, receiver.url, event_types=["insert-rows"])
    internal = get_internal_db(ds)
    await internal.execute_write("drop table datasette_internal_webhooks_deliveries")
    response = await ds.client.post(
        "/data/species/-/insert", json={"row": {"name": "lost"}}, cookies=root_cookies(ds)
    )
    assert response.status_code == 201
    rows = (await ds.get_database("data").execute("select name from species")).rows
    assert [r[0] for r in rows] == ["otter", "lost"]


async def test_retries_keep_the_webhook_id_and_follow_the_schedule(ds, receiver, frozen_time):
    receiver.respond = lambda n: (500, {}, 0) if n < 2 else (200, {}, 0)
    endpoint, _ = await create_endpoint(ds, receiver.url, event_types=["insert-rows"])
    await insert(ds, "retry me")
    await idle(ds)
    receiver.wait_for(1)
    [delivery] = await deliveries(ds, endpoint["id"])
    assert delivery["status"] == "pending"
    assert delivery["last_status_code"] == 500
    [attempt] = await attempts(ds, endpoint["id"])
    delay = delivery["next_attempt_at"] - attempt["attempted_at"]
    assert RETRY_DELAYS[0] * 0.8 <= delay <= RETRY_DELAYS[0] * 1.2
    frozen_time.advance(RETRY_DELAYS[0] * 1.2 + 0.1)
    await idle(ds)
    receiver.wait_for(2)
    [delivery] = await deliveries(ds, endpoint["id"])
    assert delivery["attempts"] == 2
    second_delay = delivery["next_attempt_at"] - frozen_time.value
    assert RETRY_DELAYS[1] * 0.8 - 1 <= second_delay <= RETRY_DELAYS[1] * 1.2
    frozen_time.advance(RETRY_DELAYS[1] * 1.2 + 0.1)
    await idle(ds)
    receiver.wait_for(3)
    [delivery] = await deliveries(ds, endpoint["id"])
    assert delivery["status"] == "succeeded"
    assert len(set(receiver.ids())) == 1
    assert [a["status_code"] for a in await attempts(ds, endpoint["id"])] == [200, 500, 500]


async def test_gives_up_after_the_last_scheduled_attempt(ds, receiver, frozen_time):
    receiver.respond = lambda n: (503, {}, 0)
    endpoint, _ = await create_endpoint(ds, receiver.url, event_types=["insert-rows"])
    await insert(ds, "doomed")
    for number in range(1, len(RETRY_DELAYS) + 2):
        await idle(ds)
        receiver.wait_for(number)
        if number <= len(RETRY_DELAYS):
            frozen_time.advance(RETRY_DELAYS[number - 1] * 1.2 + 1)
    [delivery] = await deliveries(ds, endpoint["id"])
    assert delivery["status"] == "failed"
    assert delivery["attempts"] == len(RETRY_DELAYS) + 1
    frozen_time.advance(10 * 86400)
    await idle(ds)
    assert len(receiver.received) == len(RETRY_DELAYS) + 1


async def test_retry_after_is_honoured(ds, receiver, frozen_time):
    receiver.respond = lambda n: (429, {"Retry-After": "120"}, 0) if n == 0 else (200, {}, 0)
    endpoint, _ = await create_endpoint(ds, receiver.url, event_types=["insert-rows"])
    await insert(ds, "slow down")
    await idle(ds)
    [delivery] = await deliveries(ds, endpoint["id"])
    [attempt] = await attempts(ds, endpoint["id"])
    assert delivery["next_attempt_at"] - attempt["attempted_at"] >= 120
    frozen_time.advance(60)
    await idle(ds)
    assert len(receiver.received) == 1
    frozen_time.advance(61)
    await idle(ds)
    receiver.wait_for(2)


async def test_redirects_are_failures_and_never_followed(ds, receiver, frozen_time):
    receiver.respond = lambda n: (302, {"Location": "/elsewhere"}, 0)
    endpoint, _ = await create_endpoint(ds, receiver.url, event_types=["insert-rows"])
    await insert(ds, "moved")
    await idle(ds)
    assert [r["path"] for r in receiver.received] == ["/hook"]
    [attempt] = await attempts(ds, endpoint["id"])
    assert attempt["succeeded"] is False
    assert attempt["status_code"] == 302
    assert "not followed" in attempt["error"]


async def test_410_disables_the_endpoint_until_re_enabled(ds, receiver):
    receiver.respond = lambda n: (410, {}, 0) if n == 0 else (200, {}, 0)
    endpoint, _ = await create_endpoint(ds, receiver.url, event_types=["insert-rows"])
    await insert(ds, "gone")
    await idle(ds)
    data = await get_json(ds, f"/-/webhooks/api/endpoints/{endpoint['id']}")
    assert data["endpoint"]["active"] is False
    assert "410" in data["endpoint"]["disabled_reason"]
    [delivery] = await deliveries(ds, endpoint["id"])
    assert delivery["status"] == "failed"
    await insert(ds, "while disabled")
    await idle(ds)
    assert len(receiver.received) == 1
    response = await ds.client.post(
        f"/-/webhooks/api/endpoints/{endpoint['id']}",
        json={"active": True},
        cookies=root_cookies(ds),
    )
    assert response.json()["endpoint"]["active"] is True
    assert response.json()["endpoint"]["disabled_reason"] is None
    await insert(ds, "back again")
    await idle(ds)
    receiver.wait_for(2)


async def test_timeouts_are_recorded_and_retried(make_ds, receiver, frozen_time):
    ds = await make_ds({"timeout_seconds": 0.3})
    receiver.respond = lambda n: (200, {}, 1.0)
    endpoint, _ = await create_endpoint(ds, receiver.url, event_types=["insert-rows"])
    await insert(ds, "slowpoke")
    await idle(ds)
    [attempt] = await attempts(ds, endpoint["id"])
    assert attempt["succeeded"] is False
    assert attempt["status_code"] is None
    assert "Timed out" in attempt["error"]
    [delivery] = await deliveries(ds, endpoint["id"])
    assert delivery["status"] == "pending"


async def test_endpoint_failing_too_long_is_disabled(ds, receiver, frozen_time):
    receiver.respond = lambda n: (500, {}, 0)
    response = await ds.client.post(
        "/-/internal/settings",
        json={"plugin": "datasette-internal-webhooks", "key": "disable_after_hours", "value": 1},
        cookies=root_cookies(ds),
    )
    assert response.status_code == 200, response.text
    endpoint, _ = await create_endpoint(ds, receiver.url, event_types=["insert-rows"])
    await insert(ds, "one")
    await idle(ds)
    frozen_time.advance(3601)
    await insert(ds, "two")
    await idle(ds)
    data = await get_json(ds, f"/-/webhooks/api/endpoints/{endpoint['id']}")
    assert data["endpoint"]["active"] is False
    assert "too long" in data["endpoint"]["disabled_reason"]


async def test_a_success_resets_the_failure_period(ds, receiver, frozen_time):
    receiver.respond = lambda n: (500, {}, 0) if n == 0 else (200, {}, 0)
    endpoint, _ = await create_endpoint(ds, receiver.url, event_types=["insert-rows"])
    await insert(ds, "one")
    await idle(ds)
    assert (await get_json(ds, f"/-/webhooks/api/endpoints/{endpoint['id']}"))["endpoint"][
        "failing_since"
    ]
    frozen_time.advance(7)
    await idle(ds)
    data = await get_json(ds, f"/-/webhooks/api/endpoints/{endpoint['id']}")
    assert data["endpoint"]["failing_since"] is None
    assert data["endpoint"]["active"] is True


async def test_secret_rotation_signs_with_both_keys_during_grace(ds, receiver, frozen_time):
    frozen_time.value = time.time()  # the receiver checks signature timestamps by its own clock
    endpoint, old_secret = await create_endpoint(ds, receiver.url, event_types=["insert-rows"])
    response = await ds.client.post(
        f"/-/webhooks/api/endpoints/{endpoint['id']}/rotate-secret", cookies=root_cookies(ds)
    )
    assert response.status_code == 200, response.text
    new_secret = response.json()["secret"]
    assert new_secret != old_secret
    receiver.secrets = [old_secret]
    await insert(ds, "during grace")
    await idle(ds)
    [request] = receiver.wait_for(1)
    assert request["verified"] is True
    assert len(request["headers"]["webhook-signature"].split(" ")) == 2
    assert signed_by(new_secret, request)
    frozen_time.advance(24 * 3600 + 1)
    await insert(ds, "after grace")
    await idle(ds)
    second = receiver.wait_for(2)[1]
    assert len(second["headers"]["webhook-signature"].split(" ")) == 1
    assert signed_by(new_secret, second)
    assert not signed_by(old_secret, second)


async def test_send_test_event_and_redeliver_one(ds, receiver):
    endpoint, secret = await create_endpoint(ds, receiver.url, event_types=["insert-rows"])
    receiver.secrets = [secret]
    response = await ds.client.post(
        f"/-/webhooks/api/endpoints/{endpoint['id']}/test", cookies=root_cookies(ds)
    )
    assert response.status_code == 202, response.text
    message_id = response.json()["message_id"]
    await idle(ds)
    [request] = receiver.wait_for(1)
    assert request["verified"] is True
    assert request["headers"]["webhook-id"] == message_id
    assert json.loads(request["body"])["type"] == "webhook-test"
    [delivery] = await deliveries(ds, endpoint["id"])
    response = await ds.client.post(
        f"/-/webhooks/api/deliveries/{delivery['id']}/redeliver", cookies=root_cookies(ds)
    )
    assert response.status_code == 202
    await idle(ds)
    second = receiver.wait_for(2)[1]
    assert second["headers"]["webhook-id"] == message_id
    assert len(await attempts(ds, endpoint["id"])) == 2


async def test_redeliver_all_failed_since_is_a_job(ds, receiver, frozen_time):
    from datasette_internal_db import jobs

    receiver.respond = lambda n: (410, {}, 0) if n == 0 else (200, {}, 0)
    endpoint, _ = await create_endpoint(ds, receiver.url, event_types=["insert-rows"])
    since = frozen_time.value - 1
    await insert(ds, "first")
    await idle(ds)
    await ds.client.post(
        f"/-/webhooks/api/endpoints/{endpoint['id']}",
        json={"active": True},
        cookies=root_cookies(ds),
    )
    response = await ds.client.post(
        f"/-/webhooks/api/endpoints/{endpoint['id']}/redeliver-failed",
        json={"since": since},
        cookies=root_cookies(ds),
    )
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["total"] == 1
    await jobs.wait(job["job_id"])
    status = await get_json(ds, job["job_url"])
    assert status["job"]["status"] == "done"
    assert status["job"]["done"] == 1
    await idle(ds)
    receiver.wait_for(2)
    [delivery] = await deliveries(ds, endpoint["id"])
    assert delivery["status"] == "succeeded"


async def test_global_pause_holds_deliveries(ds, receiver):
    endpoint, _ = await create_endpoint(ds, receiver.url, event_types=["insert-rows"])
    state = get_state(ds)
    worker = state.worker
    setting = {"plugin": "datasette-internal-webhooks", "key": "paused"}
    await ds.client.post(
        "/-/internal/settings", json=dict(setting, value=True), cookies=root_cookies(ds)
    )
    await eventually(lambda: worker.paused, "the worker to read the pause")
    await insert(ds, "held")
    await state.outbox.committed()
    # Unpaused, the worker starts a due delivery within two passes (one may yield to requests).
    passes = worker.passes
    await eventually(lambda: worker.passes >= passes + 3, "three passes of the worker's loop")
    assert worker.sending() == 0
    [delivery] = await deliveries(ds, endpoint["id"])
    assert (delivery["status"], delivery["attempts"]) == ("pending", 0)
    assert receiver.received == []
    await ds.client.post(
        "/-/internal/settings", json=dict(setting, value=False), cookies=root_cookies(ds)
    )
    await idle(ds)
    receiver.wait_for(1)


async def test_audit_records_endpoint_changes(ds, receiver):
    endpoint, _ = await create_endpoint(ds, receiver.url, event_types=["insert-rows"])
    path = f"/-/webhooks/api/endpoints/{endpoint['id']}"
    await ds.client.post(path, json={"description": "ops"}, cookies=root_cookies(ds))
    await ds.client.post(path + "/rotate-secret", cookies=root_cookies(ds))
    await ds.client.post(path + "/delete", cookies=root_cookies(ds))
    assert await audit_actions(ds) == [
        "endpoint-delete",
        "endpoint-rotate-secret",
        "endpoint-update",
        "endpoint-create",
    ]
    assert (await get_json(ds, "/-/webhooks/api/endpoints"))["endpoints"] == []


async def test_retention_prunes_old_attempts_and_finished_deliveries(ds, receiver, frozen_time):
    from datasette_internal_webhooks.worker import prune

    endpoint, _ = await create_endpoint(ds, receiver.url, event_types=["insert-rows"])
    await insert(ds, "old news")
    await idle(ds)
    assert len(await deliveries(ds, endpoint["id"])) == 1
    frozen_time.advance(31 * 86400)
    await prune(ds, frozen_time.value)
    assert await deliveries(ds, endpoint["id"]) == []
    assert await attempts(ds, endpoint["id"]) == []
    count = (
        await get_internal_db(ds).execute(
            "select count(*) from datasette_internal_webhooks_messages"
        )
    ).single_value()
    assert count == 0


def test_retry_delay_schedule_and_jitter():
    for attempts_made, base in enumerate(RETRY_DELAYS, start=1):
        for _ in range(20):
            assert base * 0.8 <= retry_delay(attempts_made) <= base * 1.2
    assert retry_delay(len(RETRY_DELAYS) + 1) is None
    assert retry_delay(1, retry_after=600) == 600
    assert retry_delay(1, retry_after=10**9) == 24 * 3600


def test_parse_retry_after():
    now = 1_800_000_000
    assert parse_retry_after("120", now) == 120
    assert parse_retry_after("Fri, 15 Jan 2027 08:00:30 GMT", 1_800_000_000 - 0) >= 0
    http_date = "Fri, 15 Jan 2027 08:01:00 GMT"
    import email.utils

    moment = email.utils.parsedate_to_datetime(http_date).timestamp()
    assert parse_retry_after(http_date, moment - 90) == 90
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after("", now) is None
    assert parse_retry_after("\u00b2", now) is None  # str.isdigit() says yes; float() says no


async def test_worker_loop_restarts_after_an_error(ds, receiver, caplog):
    await create_endpoint(ds, receiver.url, event_types=["insert-rows"])
    internal = get_internal_db(ds)
    await internal.execute_write(
        "alter table datasette_internal_webhooks_deliveries rename to moved_away"
    )
    deadline = asyncio.get_running_loop().time() + 5
    while "Webhook worker failed" not in caplog.text:
        assert asyncio.get_running_loop().time() < deadline, "the worker never hit the error"
        await asyncio.sleep(0.05)
    await internal.execute_write(
        "alter table moved_away rename to datasette_internal_webhooks_deliveries"
    )
    await insert(ds, "after the crash")
    await idle(ds)
    receiver.wait_for(1)


async def test_delete_row_and_create_table_payloads(ds, receiver):
    await create_endpoint(ds, receiver.url, event_types=["delete-row", "create-table"])
    response = await ds.client.post("/data/species/1/-/delete", cookies=root_cookies(ds))
    assert response.status_code == 200, response.text
    response = await ds.client.post(
        "/data/-/create",
        json={"table": "birds", "columns": [{"name": "id", "type": "integer"}], "pk": "id"},
        cookies=root_cookies(ds),
    )
    assert response.status_code == 201, response.text
    await idle(ds)
    payloads = sorted(
        (json.loads(r["body"]) for r in receiver.wait_for(2)), key=lambda p: p["type"]
    )
    assert [p["type"] for p in payloads] == ["create-table", "delete-row"]
    assert payloads[0]["data"]["table"] == "birds"
    assert "CREATE TABLE" in payloads[0]["data"]["schema"]
    assert payloads[1]["data"] == {"database": "data", "table": "species", "pks": ["1"]}


async def test_pruning_in_chunks_keeps_pending_deliveries(ds, receiver, frozen_time):
    from datasette_internal_webhooks import store_deliveries

    receiver.respond = lambda n: (200, {}, 0) if n < 5 else (500, {}, 0)
    endpoint, _ = await create_endpoint(ds, receiver.url, event_types=["insert-rows"])
    for number in range(7):
        await insert(ds, f"row {number}")
    await idle(ds)
    attempts_deleted, deliveries_deleted = await store_deliveries.prune_outgoing(
        ds, frozen_time.value + 1, chunk=2
    )
    assert attempts_deleted == 7
    assert deliveries_deleted == 5
    remaining = await deliveries(ds, endpoint["id"])
    assert [d["status"] for d in remaining] == ["pending", "pending"]
    count = (
        await get_internal_db(ds).execute(
            "select count(*) from datasette_internal_webhooks_messages"
        )
    ).single_value()
    assert count == 2


async def test_numbers_and_ids_out_of_range_are_400s_not_500s(ds):
    """Failure 5 of issue 12 and its relatives: every number a route takes is bounded."""
    endpoint, _ = await create_endpoint(ds, "http://127.0.0.1:9/hook")
    cookies = root_cookies(ds)
    paths = ["/-/webhooks/api/redeliver-failed", f"/-/webhooks/api/endpoints/{endpoint['id']}"]
    paths[1] += "/redeliver-failed"
    bodies = [
        {"since": int("9" * 401)},
        {"since": 1e300},
        {"since": -1},
        {"since": "99999-01-01"},
        {"since": "2026-01-01T00:00:00Z", "endpoint_id": ["ep_1"]},
        {"since": "2026-01-01T00:00:00Z", "endpoint_id": {"id": "ep_1"}},
        {"since": "2026-01-01T00:00:00Z", "endpoint_id": endpoint["id"] + "\n"},
    ]
    for path in paths:
        for body in bodies:
            response = await ds.client.post(path, content=json.dumps(body), cookies=cookies)
            assert response.status_code == 400, (path, body, response.text)
    for before in ("\u00b2", "\u0661\u0662", "9" * 19, "-1", "1.5"):
        for what in ("deliveries", "attempts"):
            response = await ds.client.get(
                f"/-/webhooks/api/endpoints/{endpoint['id']}/{what}",
                params={"_next": before},
                cookies=cookies,
            )
            assert response.status_code == 400, (what, before, response.text)
    unknown = await ds.client.post(
        "/-/webhooks/api/redeliver-failed",
        json={"since": 0, "endpoint_id": "ep_0123456789abcdef"},
        cookies=cookies,
    )
    assert unknown.status_code == 404


async def test_audit_records_incoming_changes_and_redeliveries(ds, receiver, frozen_time):
    """README: every change is written to core's audit log, with `redeliver`,
    `redeliver-failed`, `incoming-create`, `incoming-update`, `incoming-delete`,
    `incoming-rotate-secret` among the actions."""
    from datasette_internal_db import audit, jobs

    cookies = root_cookies(ds)
    created = await ds.client.post(
        "/-/webhooks/api/incoming", json={"slug": "partner", "scheme": "bearer"}, cookies=cookies
    )
    assert created.status_code == 201, created.text
    path = f"/-/webhooks/api/incoming/{created.json()['incoming']['id']}"
    for action_path, body in (
        (path, {"description": "ops"}),
        (path + "/rotate-secret", None),
        (path + "/delete", None),
    ):
        response = await ds.client.post(action_path, json=body, cookies=cookies)
        assert response.status_code == 200, (action_path, response.text)
    endpoint, _ = await create_endpoint(ds, receiver.url, event_types=["insert-rows"])
    await insert(ds, "logged")
    await idle(ds)
    [delivery] = await deliveries(ds, endpoint["id"])
    response = await ds.client.post(
        f"/-/webhooks/api/deliveries/{delivery['id']}/redeliver", cookies=cookies
    )
    assert response.status_code == 202, response.text
    response = await ds.client.post(
        "/-/webhooks/api/redeliver-failed", json={"since": 0}, cookies=cookies
    )
    assert response.status_code == 202, response.text
    await jobs.wait(response.json()["job_id"])
    await idle(ds)
    assert await audit_actions(ds) == [
        "redeliver-failed",
        "redeliver",
        "endpoint-create",
        "incoming-delete",
        "incoming-rotate-secret",
        "incoming-update",
        "incoming-create",
    ]
    [redelivered] = await audit.entries(
        ds, plugin="datasette-internal-webhooks", action="redeliver"
    )
    assert redelivered["details"]["message_id"] == delivery["message_id"]


async def test_a_disabled_endpoint_keeps_its_pending_deliveries_and_gets_no_new_ones(
    ds, receiver, frozen_time
):
    """README: "Deliveries of a disabled endpoint stay pending and go out when it is re-enabled
    ...; events that happen while it is disabled are not queued for it", and re-enabling
    "clears the failure state"."""
    receiver.respond = lambda n: (500, {}, 0) if n == 0 else (200, {}, 0)
    endpoint, _ = await create_endpoint(ds, receiver.url, event_types=["insert-rows"])
    path = f"/-/webhooks/api/endpoints/{endpoint['id']}"
    await insert(ds, "before")
    await idle(ds)
    [first] = receiver.wait_for(1)
    disabled = await ds.client.post(path, json={"active": False}, cookies=root_cookies(ds))
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["endpoint"]["active"] is False
    assert disabled.json()["endpoint"]["failing_since"] is not None
    await insert(ds, "while disabled")
    frozen_time.advance(RETRY_DELAYS[0] * 1.2 + 1)  # the retry is due, but the endpoint is off
    await idle(ds)
    assert len(receiver.received) == 1
    [delivery] = await deliveries(ds, endpoint["id"])
    assert (delivery["status"], delivery["attempts"]) == ("pending", 1)
    enabled = await ds.client.post(path, json={"active": True}, cookies=root_cookies(ds))
    assert enabled.status_code == 200, enabled.text
    assert enabled.json()["endpoint"]["failing_since"] is None
    await idle(ds)
    [_, second] = receiver.wait_for(2)
    assert second["headers"]["webhook-id"] == first["headers"]["webhook-id"]
    await idle(ds)
    assert len(receiver.received) == 2
    [delivery] = await deliveries(ds, endpoint["id"])
    assert (delivery["status"], delivery["attempts"]) == ("succeeded", 2)


async def test_update_row_payload_carries_rowid_and_bytes_as_base64(make_ds, data_db, receiver):
    """README: the `update-row` row has "all columns, and `rowid` for a table without a primary
    key"; values JSON cannot carry "are sent as their string form; bytes as
    {"$base64": true, "encoded": "..."}"."""
    conn = sqlite3.connect(data_db)
    conn.execute("create table files (name text, content blob)")
    conn.execute("insert into files (name, content) values ('a', ?)", [b"\x00\xff\x10"])
    conn.commit()
    conn.close()
    ds = await make_ds()
    data = (await delivered_update(ds, receiver, "/data/files/1", {"name": "b"}))["data"]
    assert data["pks"] == ["1"]
    assert data["row"] == {
        "rowid": 1,
        "name": "b",
        "content": {"$base64": True, "encoded": base64.b64encode(b"\x00\xff\x10").decode()},
    }


async def test_a_test_event_goes_only_to_its_own_endpoint(ds, receiver):
    """README: `webhook-test` is "the "Send test event" button, sent only to that endpoint":
    not to another endpoint subscribed to `*`."""
    endpoint, _ = await create_endpoint(ds, receiver.url + "?own", event_types=["insert-rows"])
    other, _ = await create_endpoint(ds, receiver.url + "?all", event_types=["*"])
    response = await ds.client.post(
        f"/-/webhooks/api/endpoints/{endpoint['id']}/test", cookies=root_cookies(ds)
    )
    assert response.status_code == 202, response.text
    await idle(ds)
    [request] = receiver.wait_for(1)
    assert (request["query"], json.loads(request["body"])["type"]) == ("own", "webhook-test")
    assert await deliveries(ds, other["id"]) == []
    assert len(receiver.received) == 1


async def test_an_event_without_the_filtered_field_never_matches_the_filter(ds, receiver):
    """README: "An event without a `database` / `table` field never matches a filter on it
    (e.g. `rename-table` has `old_table`/`new_table`, not `table`)"."""
    types = ["rename-table", "create-token", "insert-rows"]
    await create_endpoint(ds, receiver.url + "?table", event_types=types, table="other")
    await create_endpoint(ds, receiver.url + "?database", event_types=types, database="data")
    await create_endpoint(ds, receiver.url + "?none", event_types=["rename-table", "create-token"])
    await insert(ds, "matches both filters", table="other")
    token = await ds.client.post(
        "/-/create-token", data={"expire_type": ""}, cookies=root_cookies(ds)
    )
    assert token.status_code == 200, token.text
    await ds.get_database("data").execute_write("alter table other rename to renamed")
    await idle(ds)
    receiver.wait_for(4)
    await idle(ds)
    got = sorted((r["query"], json.loads(r["body"])["type"]) for r in receiver.received)
    # create-token has no database field; rename-table (database "data") has no table field.
    assert got == [
        ("database", "insert-rows"),
        ("database", "rename-table"),
        ("none", "create-token"),
        ("none", "rename-table"),
        ("table", "insert-rows"),
    ]


async def rows_kept_for(ds, endpoint_id):
    """What the internal DB holds for an endpoint: its row, deliveries and attempts (counts),
    and the names of its secrets."""
    internal = get_internal_db(ds)
    kept = {}
    for table in ("endpoints", "deliveries", "attempts"):
        column = "id" if table == "endpoints" else "endpoint_id"
        sql = f"select count(*) from datasette_internal_webhooks_{table} where {column} = ?"
        kept[table] = (await internal.execute(sql, [endpoint_id])).single_value()
    secrets = await internal.execute(
        "select name from _datasette_internal_secrets where plugin = ? and name like ?"
        " order by name",
        ["datasette-internal-webhooks", f"endpoint:{endpoint_id}%"],
    )
    kept["secrets"] = [row[0] for row in secrets]
    return kept


async def test_deleting_an_endpoint_deletes_its_log_and_its_secrets(ds, receiver):
    """README: `POST endpoints/<id>/delete` deletes it "with its log" (the deliveries and
    attempts tables); its secrets `endpoint:<id>`, `endpoint:<id>:previous` live in core's
    `_datasette_internal_secrets`. Another endpoint's log and secrets stay."""
    doomed, _ = await create_endpoint(ds, receiver.url + "?doomed", event_types=["insert-rows"])
    other, _ = await create_endpoint(ds, receiver.url + "?other", event_types=["insert-rows"])
    for endpoint in (doomed, other):  # so that each has a previous secret too
        path = f"/-/webhooks/api/endpoints/{endpoint['id']}/rotate-secret"
        response = await ds.client.post(path, cookies=root_cookies(ds))
        assert response.status_code == 200, response.text
    await insert(ds, "logged twice")
    await idle(ds)
    receiver.wait_for(2)

    def everything(endpoint_id):
        names = [f"endpoint:{endpoint_id}", f"endpoint:{endpoint_id}:previous"]
        return {"endpoints": 1, "deliveries": 1, "attempts": 1, "secrets": names}

    assert await rows_kept_for(ds, doomed["id"]) == everything(doomed["id"])
    response = await ds.client.post(
        f"/-/webhooks/api/endpoints/{doomed['id']}/delete", cookies=root_cookies(ds)
    )
    assert response.status_code == 200, response.text
    assert await rows_kept_for(ds, doomed["id"]) == {
        "endpoints": 0,
        "deliveries": 0,
        "attempts": 0,
        "secrets": [],
    }
    assert await rows_kept_for(ds, other["id"]) == everything(other["id"])
