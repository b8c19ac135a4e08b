import datetime
import hashlib
import hmac
import json
import sqlite3
import time

import pytest
from conftest import create_endpoint, idle, internal_db_bytes, root_cookies
from datasette_internal_db import get_internal_db
from standardwebhooks.webhooks import Webhook


async def create_incoming(ds, slug, scheme):
    response = await ds.client.post(
        "/-/webhooks/api/incoming",
        json={"slug": slug, "scheme": scheme, "description": "from partner"},
        cookies=root_cookies(ds),
    )
    assert response.status_code == 201, response.text
    data = response.json()
    return data["incoming"], data["secret"]


def standard_headers(secret, body, message_id="msg_1", timestamp=None):
    moment = datetime.datetime.fromtimestamp(
        timestamp if timestamp is not None else time.time(), tz=datetime.timezone.utc
    )
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, moment, body),
    }


async def received(ds, incoming):
    response = await ds.client.get(
        f"/-/webhooks/api/incoming/{incoming['id']}/received", cookies=root_cookies(ds)
    )
    return response.json()["received"]


async def stored_count(ds):
    return (
        await get_internal_db(ds).execute(
            "select count(*) from datasette_internal_webhooks_received"
        )
    ).single_value()


async def test_standard_webhooks_verified_stored_and_emitted(ds, receiver):
    incoming, secret = await create_incoming(ds, "partner", "standard")
    assert incoming["url"].endswith("/-/webhooks/in/partner")
    await create_endpoint(ds, receiver.url, event_types=["webhook-received"])
    body = json.dumps({"hello": "world"})
    response = await ds.client.post(
        "/-/webhooks/in/partner", content=body, headers=standard_headers(secret, body)
    )
    assert response.status_code == 200, response.text
    [row] = await received(ds, incoming)
    assert json.loads(row["body"]) == {"hello": "world"}
    assert row["message_id"] == "msg_1"
    await idle(ds)
    [request] = receiver.wait_for(1)
    payload = json.loads(request["body"])
    assert payload["type"] == "webhook-received"
    assert payload["data"] == {
        "slug": "partner",
        "received_id": row["id"],
        "message_id": "msg_1",
        "scheme": "standard",
    }


async def test_standard_webhooks_refusals_store_nothing(ds):
    incoming, secret = await create_incoming(ds, "partner", "standard")
    body = json.dumps({"a": 1})
    good = standard_headers(secret, body)
    other_secret = "whsec_" + "QUJD" * 8
    cases = [
        (dict(good, **{"webhook-signature": "v1,AAAA"}), body, 401),
        (standard_headers(other_secret, body), body, 401),
        (good, body + " ", 401),
        ({k: v for k, v in good.items() if k != "webhook-signature"}, body, 401),
        (standard_headers(secret, body, timestamp=time.time() - 310), body, 401),
        (standard_headers(secret, body, timestamp=time.time() + 310), body, 401),
        (dict(good, **{"content-type": "text/plain"}), body, 415),
        (dict(good, **{"content-type": "application/x-www-form-urlencoded"}), body, 415),
    ]
    for headers, content, status in cases:
        response = await ds.client.post("/-/webhooks/in/partner", content=content, headers=headers)
        assert response.status_code == status, (headers, response.text)
        if status == 401:
            assert response.json() == {"ok": False, "errors": ["Unauthorized"]}
    assert await stored_count(ds) == 0


async def test_replay_is_refused(ds):
    _, secret = await create_incoming(ds, "partner", "standard")
    body = json.dumps({"n": 1})
    headers = standard_headers(secret, body, message_id="msg_replay")
    first = await ds.client.post("/-/webhooks/in/partner", content=body, headers=headers)
    assert first.status_code == 200
    again = await ds.client.post("/-/webhooks/in/partner", content=body, headers=headers)
    assert again.status_code == 409
    assert await stored_count(ds) == 1


async def test_too_large_is_413(make_ds):
    ds = await make_ds({"max_incoming_bytes": 1000})
    _, secret = await create_incoming(ds, "partner", "standard")
    body = json.dumps({"blob": "x" * 2000})
    response = await ds.client.post(
        "/-/webhooks/in/partner", content=body, headers=standard_headers(secret, body)
    )
    assert response.status_code == 413
    assert await stored_count(ds) == 0


async def test_a_streamed_body_past_the_limit_is_413_while_reading(make_ds):
    """README: 413 when "the body is larger than `max_incoming_bytes` (checked on
    `Content-Length` and while reading)", and the receiver "stores nothing unless it answers
    200": a chunked body, which declares no length, is refused once it passes the limit."""
    ds = await make_ds({"max_incoming_bytes": 1000})
    incoming, token = await create_incoming(ds, "bearer-in", "bearer")
    headers = {"content-type": "application/json", "authorization": f"Bearer {token}"}

    async def streamed(body):
        for start in range(0, len(body), 100):
            yield body[start : start + 100]

    answers = []
    for body in (json.dumps({"blob": "x" * 2000}).encode(), b'{"small": true}'):
        response = await ds.client.post(
            "/-/webhooks/in/bearer-in", content=streamed(body), headers=headers
        )
        assert "content-length" not in response.request.headers
        assert response.request.headers["transfer-encoding"] == "chunked"
        answers.append(response.status_code)
    assert answers == [413, 200]
    assert [json.loads(row["body"]) for row in await received(ds, incoming)] == [{"small": True}]


async def test_github_signature(ds):
    _, secret = await create_incoming(ds, "github-in", "github")
    body = json.dumps({"action": "opened"}).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "content-type": "application/json",
        "x-hub-signature-256": signature,
        "x-github-delivery": "d-1",
    }
    assert (
        await ds.client.post("/-/webhooks/in/github-in", content=body, headers=headers)
    ).status_code == 200
    assert (
        await ds.client.post("/-/webhooks/in/github-in", content=body, headers=headers)
    ).status_code == 409
    for bad in ("sha256=" + "0" * 64, signature[:-1], "", signature.upper()):
        response = await ds.client.post(
            "/-/webhooks/in/github-in",
            content=body,
            headers=dict(headers, **{"x-hub-signature-256": bad, "x-github-delivery": "d-2"}),
        )
        assert response.status_code == 401, bad
    assert await stored_count(ds) == 1


async def test_bearer_token_is_stored_hashed(ds):
    incoming, token = await create_incoming(ds, "bearer-in", "bearer")
    row = (
        await get_internal_db(ds).execute(
            "select token_hash from datasette_internal_webhooks_incoming where id = ?",
            [incoming["id"]],
        )
    ).first()
    assert row["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert "token_hash" not in incoming
    body = b'{"x": 1}'
    ok = await ds.client.post(
        "/-/webhooks/in/bearer-in",
        content=body,
        headers={"content-type": "application/json", "authorization": f"Bearer {token}"},
    )
    assert ok.status_code == 200
    for auth in (f"Bearer {token}x", "Bearer ", token, ""):
        response = await ds.client.post(
            "/-/webhooks/in/bearer-in",
            content=body,
            headers={"content-type": "application/json", "authorization": auth},
        )
        assert response.status_code == 401
    assert await stored_count(ds) == 1


@pytest.mark.parametrize("scheme", ["standard", "github", "bearer"])
async def test_rotating_an_incoming_secret_retires_the_old_one(ds, scheme):
    """README: `POST incoming/<id>/rotate-secret`: "new secret (the old one stops at once)",
    for every scheme (a bearer token is checked against its stored hash, not a stored secret)."""
    incoming, old = await create_incoming(ds, "partner", scheme)
    response = await ds.client.post(
        f"/-/webhooks/api/incoming/{incoming['id']}/rotate-secret", cookies=root_cookies(ds)
    )
    assert response.status_code == 200, response.text
    new = response.json()["secret"]
    assert new != old
    body = b"{}"
    refused = await ds.client.post(
        "/-/webhooks/in/partner", content=body, headers=signed_headers(scheme, old, body, "m1")
    )
    assert refused.status_code == 401
    assert refused.json() == {"ok": False, "errors": ["Unauthorized"]}
    accepted = await ds.client.post(
        "/-/webhooks/in/partner", content=body, headers=signed_headers(scheme, new, body, "m2")
    )
    assert accepted.status_code == 200, accepted.text
    assert await stored_count(ds) == 1


async def test_unknown_or_disabled_slug_is_404(ds):
    incoming, secret = await create_incoming(ds, "partner", "standard")
    await ds.client.post(
        f"/-/webhooks/api/incoming/{incoming['id']}",
        json={"active": False},
        cookies=root_cookies(ds),
    )
    body = "{}"
    for slug in ("partner", "nobody"):
        response = await ds.client.post(
            f"/-/webhooks/in/{slug}", content=body, headers=standard_headers(secret, body)
        )
        assert response.status_code == 404


@pytest.mark.parametrize("slug", ["ab", "-x-y", "Upper", "has/slash", "x" * 65])
async def test_bad_slugs_are_refused(ds, slug):
    response = await ds.client.post(
        "/-/webhooks/api/incoming",
        json={"slug": slug, "scheme": "standard"},
        cookies=root_cookies(ds),
    )
    assert response.status_code == 400


async def test_operator_configured_target_table_gets_a_row(make_ds, data_db):
    ds = await make_ds({"incoming_targets": {"partner": {"database": "data", "table": "inbox"}}})
    _, secret = await create_incoming(ds, "partner", "standard")
    body = json.dumps({"order": 7})
    response = await ds.client.post(
        "/-/webhooks/in/partner", content=body, headers=standard_headers(secret, body, "msg_t")
    )
    assert response.status_code == 200
    conn = sqlite3.connect(data_db)
    rows = conn.execute("select incoming_slug, message_id, payload from inbox").fetchall()
    conn.close()
    assert rows == [("partner", "msg_t", '{"order": 7}')]


async def test_verified_body_that_is_not_utf8_json_is_a_400(ds):
    _, token = await create_incoming(ds, "bearer-in", "bearer")
    headers = {"content-type": "application/json", "authorization": f"Bearer {token}"}
    for body in ('{"a": 1}'.encode("utf-16"), b"\xff{}", b"not json"):
        response = await ds.client.post("/-/webhooks/in/bearer-in", content=body, headers=headers)
        assert response.status_code == 400
    assert await stored_count(ds) == 0


async def test_bad_incoming_input_is_a_400(ds):
    cases = [
        {"slug": 5, "scheme": "standard"},
        {"slug": "partner", "scheme": "md5"},
        {"slug": "partner"},
        {"slug": "partner", "scheme": "standard", "description": ["x"]},
        {"slug": "partner", "scheme": "standard", "secret": "mine"},
        {"slug": "x\n", "scheme": "standard"},
        {"slug": "partner\n", "scheme": "standard"},
    ]
    for body in cases:
        response = await ds.client.post(
            "/-/webhooks/api/incoming", json=body, cookies=root_cookies(ds)
        )
        assert response.status_code == 400, body
    listing = await ds.client.get("/-/webhooks/api/incoming", cookies=root_cookies(ds))
    assert listing.json()["incoming"] == []
    await create_incoming(ds, "partner", "standard")
    taken = await ds.client.post(
        "/-/webhooks/api/incoming",
        json={"slug": "partner", "scheme": "bearer"},
        cookies=root_cookies(ds),
    )
    assert taken.status_code == 400
    assert "taken" in taken.json()["errors"][0]


async def test_received_payloads_are_pruned_after_retention(ds, frozen_time):
    from datasette_internal_webhooks.worker import prune

    incoming, token = await create_incoming(ds, "bearer-in", "bearer")
    headers = {"content-type": "application/json", "authorization": f"Bearer {token}"}
    for number in range(3):
        response = await ds.client.post(
            "/-/webhooks/in/bearer-in",
            content=b"{}",
            headers=dict(headers, **{"webhook-id": f"m{number}"}),
        )
        assert response.status_code == 200
    frozen_time.advance(31 * 86400)
    await prune(ds, frozen_time.value)
    assert await stored_count(ds) == 0
    seen = (
        await get_internal_db(ds).execute("select count(*) from datasette_internal_webhooks_seen")
    ).single_value()
    assert seen == 0


def signed_headers(scheme, secret, body, message_id):
    if scheme == "standard":
        return standard_headers(secret, body.decode(), message_id)
    if scheme == "github":
        signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return {
            "content-type": "application/json",
            "x-hub-signature-256": "sha256=" + signature,
            "x-github-delivery": message_id,
        }
    return {"content-type": "application/json", "authorization": f"Bearer {secret}"}


@pytest.mark.parametrize("scheme", ["standard", "github", "bearer"])
async def test_a_verified_body_nested_too_deep_or_not_an_object_is_a_400(ds, scheme):
    """Core's body parser decides (one place for every route): no RecursionError, no 500."""
    _, secret = await create_incoming(ds, f"deep-{scheme}", scheme)
    cases = [
        (b"[" * 100_000 + b"]" * 100_000, "nested"),
        (b'{"a": ' * 5_000 + b"1" + b"}" * 5_000, "nested"),
        (b'{"n": ' + b"9" * 401 + b"}", "64 bits"),
        (b'{"n": NaN}', "not a JSON number"),
        (b"[1, 2]", "JSON object"),
    ]
    for number, (body, expected) in enumerate(cases):
        headers = signed_headers(scheme, secret, body, f"msg_{number}")
        response = await ds.client.post(
            f"/-/webhooks/in/deep-{scheme}", content=body, headers=headers
        )
        assert response.status_code == 400, (body[:20], response.text)
        assert expected in response.json()["errors"][0]
    assert await stored_count(ds) == 0


async def test_an_unverified_call_learns_nothing_about_the_body_or_replays(ds):
    """README: the receiver answers "in this order": 401 (no detail on purpose) comes before
    400 for a body that is not a JSON object and before 409 for a message id already received."""
    _, secret = await create_incoming(ds, "partner", "standard")
    body = json.dumps({"n": 1})
    stored = await ds.client.post(
        "/-/webhooks/in/partner", content=body, headers=standard_headers(secret, body, "msg_seen")
    )
    assert stored.status_code == 200, stored.text
    other_secret = "whsec_" + "QUJD" * 8
    cases = [
        # A replay of a stored id, signed with another secret: not a 409 that confirms the id.
        (body, standard_headers(other_secret, body, "msg_seen")),
        # Bodies the parser would refuse, unsigned or signed with another secret.
        ("not json", standard_headers(other_secret, "not json", "msg_a")),
        ("[1, 2]", standard_headers(other_secret, "[1, 2]", "msg_b")),
        ('{"a": ' * 200 + "1" + "}" * 200, {"content-type": "application/json"}),
    ]
    for content, headers in cases:
        response = await ds.client.post("/-/webhooks/in/partner", content=content, headers=headers)
        assert response.status_code == 401, (content[:20], response.text)
        assert response.json() == {"ok": False, "errors": ["Unauthorized"]}
    assert await stored_count(ds) == 1


async def test_bearer_replays_are_refused_by_webhook_id_or_idempotency_key(ds):
    """README: bearer's "Replay refusal by `webhook-id` or `Idempotency-Key`, when sent"."""
    incoming, token = await create_incoming(ds, "bearer-in", "bearer")
    auth = {"content-type": "application/json", "authorization": f"Bearer {token}"}
    answers = []
    for extra in (
        {"idempotency-key": "key-1"},
        {"idempotency-key": "key-1"},
        {"webhook-id": "msg_1"},
        {"webhook-id": "msg_1"},
        {},
        {},
    ):
        response = await ds.client.post(
            "/-/webhooks/in/bearer-in", content=b"{}", headers=dict(auth, **extra)
        )
        answers.append(response.status_code)
    # Without an id nothing can be told apart: both are kept.
    assert answers == [200, 409, 200, 409, 200, 200]
    rows = await received(ds, incoming)
    assert sorted(row["message_id"] or "" for row in rows) == ["", "", "key-1", "msg_1"]


async def test_incoming_secrets_are_never_shown_again_nor_stored_in_clear(ds, tmp_path):
    """README: an incoming endpoint's "secret is shown once"; webhooks-view-log sees received
    payloads "(never secrets)"; "only the SHA-256 of the token is stored"; "whsec_ and GitHub
    secrets are stored encrypted with core secrets.store"."""
    made = {}
    for scheme in ("standard", "github", "bearer"):
        made[scheme] = await create_incoming(ds, f"in-{scheme}", scheme)
    token_hash = hashlib.sha256(made["bearer"][1].encode()).hexdigest()
    paths = ["/-/webhooks", "/-/webhooks/api/incoming"]
    for incoming, _ in made.values():
        paths += [
            f"/-/webhooks/api/incoming/{incoming['id']}",
            f"/-/webhooks/incoming/{incoming['id']}",
        ]
    for path in paths:
        response = await ds.client.get(path, cookies=root_cookies(ds))
        assert response.status_code == 200, path
        for _, secret in made.values():
            assert secret not in response.text, path
            assert secret.removeprefix("whsec_") not in response.text, path
        assert token_hash not in response.text, path
        assert "token_hash" not in response.text, path
    stored = internal_db_bytes(tmp_path)
    assert token_hash.encode() in stored  # the file holds the hash (the check reads it) ...
    for _, secret in made.values():  # ... and no secret in clear
        assert secret.removeprefix("whsec_").encode() not in stored
