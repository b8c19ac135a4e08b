import pytest
from conftest import audit_actions, create_endpoint, idle, internal_db_bytes, root_cookies
from datasette_internal_db.testing import cookies_for

READS = [
    "/-/webhooks",
    "/-/webhooks/api/endpoints",
    "/-/webhooks/api/incoming",
    "/-/webhooks/api/event-types",
]
WRITES = ["/-/webhooks/api/endpoints", "/-/webhooks/api/incoming"]


@pytest.mark.parametrize("actor", [None, "alice"])
async def test_only_root_by_default(ds, receiver, actor):
    endpoint, _ = await create_endpoint(ds, receiver.url)
    cookies = cookies_for(ds, actor) if actor else {}
    for path in READS + [f"/-/webhooks/api/endpoints/{endpoint['id']}/attempts"]:
        response = await ds.client.get(path, cookies=cookies)
        assert response.status_code == 403, path
    for path in WRITES + [
        f"/-/webhooks/api/endpoints/{endpoint['id']}/delete",
        f"/-/webhooks/api/endpoints/{endpoint['id']}/rotate-secret",
        f"/-/webhooks/api/endpoints/{endpoint['id']}/test",
    ]:
        response = await ds.client.post(path, json={"url": receiver.url}, cookies=cookies)
        assert response.status_code == 403, path
    listing = await ds.client.get("/-/webhooks/api/endpoints", cookies=root_cookies(ds))
    assert len(listing.json()["endpoints"]) == 1


async def test_view_log_grants_reading_but_not_managing(make_ds, receiver):
    ds = await make_ds()
    ds.config["permissions"] = {"webhooks-view-log": {"id": "alice"}}
    endpoint, _ = await create_endpoint(ds, receiver.url)
    alice = cookies_for(ds, "alice")
    for path in READS + [f"/-/webhooks/endpoints/{endpoint['id']}"]:
        response = await ds.client.get(path, cookies=alice)
        assert response.status_code == 200, path
    page = await ds.client.get("/-/webhooks", cookies=alice)
    assert 'data-di-open="add-endpoint"' not in page.text
    response = await ds.client.post(
        "/-/webhooks/api/endpoints", json={"url": receiver.url}, cookies=alice
    )
    assert response.status_code == 403


async def test_get_cannot_change_anything(ds, receiver):
    endpoint, _ = await create_endpoint(ds, receiver.url)
    response = await ds.client.get(
        f"/-/webhooks/api/endpoints/{endpoint['id']}/delete", cookies=root_cookies(ds)
    )
    assert response.status_code == 405
    listing = await ds.client.get("/-/webhooks/api/endpoints", cookies=root_cookies(ds))
    assert len(listing.json()["endpoints"]) == 1


async def test_cross_site_posts_are_refused(ds, receiver):
    response = await ds.client.post(
        "/-/webhooks/api/endpoints",
        json={"url": receiver.url},
        cookies=root_cookies(ds),
        headers={"sec-fetch-site": "cross-site"},
    )
    assert response.status_code == 403
    listing = await ds.client.get("/-/webhooks/api/endpoints", cookies=root_cookies(ds))
    assert listing.json()["endpoints"] == []


async def test_secret_is_shown_once(ds, receiver):
    endpoint, secret = await create_endpoint(ds, receiver.url)
    for path in ("/-/webhooks/api/endpoints", f"/-/webhooks/api/endpoints/{endpoint['id']}"):
        response = await ds.client.get(path, cookies=root_cookies(ds))
        assert secret not in response.text
        assert secret[6:] not in response.text
    page = await ds.client.get(f"/-/webhooks/endpoints/{endpoint['id']}", cookies=root_cookies(ds))
    assert secret[6:] not in page.text


async def test_secrets_are_encrypted_at_rest(ds, receiver, tmp_path):
    _, secret = await create_endpoint(ds, receiver.url)
    raw = internal_db_bytes(tmp_path)
    assert raw
    assert secret[6:].encode() not in raw
    assert secret[6:16].encode() not in raw


async def test_manage_alone_can_read_and_write(make_ds, receiver):
    ds = await make_ds()
    ds.config["permissions"] = {"webhooks-manage": {"id": "bob"}}
    bob = cookies_for(ds, "bob")
    response = await ds.client.post(
        "/-/webhooks/api/endpoints", json={"url": receiver.url}, cookies=bob
    )
    assert response.status_code == 201
    listing = await ds.client.get("/-/webhooks/api/endpoints", cookies=bob)
    assert len(listing.json()["endpoints"]) == 1
    page = await ds.client.get("/-/webhooks", cookies=bob)
    assert 'data-di-open="add-endpoint"' in page.text


async def test_browsers_get_an_html_403_and_api_clients_json(ds, receiver):
    endpoint, _ = await create_endpoint(ds, receiver.url)
    alice = cookies_for(ds, "alice")
    for path in ("/-/webhooks", f"/-/webhooks/endpoints/{endpoint['id']}"):
        page = await ds.client.get(path, cookies=alice, headers={"accept": "text/html"})
        assert page.status_code == 403
        assert page.headers["content-type"].startswith("text/html")
        assert "webhooks-view-log" in page.text
    api = await ds.client.get("/-/webhooks/api/endpoints", cookies=alice)
    assert api.status_code == 403
    assert api.json()["ok"] is False


async def root_made_things(ds, receiver):
    """An endpoint with one delivered message and an incoming endpoint with one received
    payload, all made by root: (endpoint, delivery id, incoming, bearer token)."""
    endpoint, _ = await create_endpoint(ds, receiver.url, event_types=["insert-rows"])
    inserted = await ds.client.post(
        "/data/species/-/insert", json={"row": {"name": "x"}}, cookies=root_cookies(ds)
    )
    assert inserted.status_code == 201, inserted.text
    await idle(ds)
    receiver.wait_for(1)
    deliveries = await ds.client.get(
        f"/-/webhooks/api/endpoints/{endpoint['id']}/deliveries", cookies=root_cookies(ds)
    )
    [delivery] = deliveries.json()["deliveries"]
    created = await ds.client.post(
        "/-/webhooks/api/incoming",
        json={"slug": "partner", "scheme": "bearer"},
        cookies=root_cookies(ds),
    )
    assert created.status_code == 201, created.text
    incoming, token = created.json()["incoming"], created.json()["secret"]
    received = await ds.client.post(
        "/-/webhooks/in/partner",
        content=b'{"note": "private-payload-text"}',
        headers={"content-type": "application/json", "authorization": f"Bearer {token}"},
    )
    assert received.status_code == 200, received.text
    return endpoint, delivery["id"], incoming, token


async def test_view_log_alone_cannot_use_any_write_route(make_ds, receiver):
    """README: webhooks-manage is needed to create, change, enable/disable, delete, rotate,
    test and redeliver; "The pages and the API check on every request"."""

    ds = await make_ds()
    ds.config["permissions"] = {"webhooks-view-log": {"id": "alice"}}
    endpoint, delivery_id, incoming, token = await root_made_things(ds, receiver)
    api = "/-/webhooks/api"
    writes = [
        (f"{api}/endpoints", {"url": receiver.url}),
        (f"{api}/endpoints/{endpoint['id']}", {"description": "alice was here"}),
        (f"{api}/endpoints/{endpoint['id']}", {"active": False}),
        (f"{api}/endpoints/{endpoint['id']}/rotate-secret", {}),
        (f"{api}/endpoints/{endpoint['id']}/test", {}),
        (f"{api}/endpoints/{endpoint['id']}/redeliver-failed", {"since": 0}),
        (f"{api}/redeliver-failed", {"since": 0}),
        (f"{api}/deliveries/{delivery_id}/redeliver", {}),
        (f"{api}/endpoints/{endpoint['id']}/delete", {}),
        (f"{api}/incoming", {"slug": "alice-in", "scheme": "bearer"}),
        (f"{api}/incoming/{incoming['id']}", {"description": "alice was here"}),
        (f"{api}/incoming/{incoming['id']}", {"active": False}),
        (f"{api}/incoming/{incoming['id']}/rotate-secret", {}),
        (f"{api}/incoming/{incoming['id']}/delete", {}),
    ]
    alice = cookies_for(ds, "alice")
    for path, body in writes:
        response = await ds.client.post(path, json=body, cookies=alice)
        assert response.status_code == 403, (path, body, response.text)
        assert response.json()["ok"] is False, path
    # Nothing changed: the same endpoint and incoming endpoint, the token still works, no
    # second delivery, and only root's own changes in the audit log.
    listing = await ds.client.get(f"{api}/endpoints", cookies=root_cookies(ds))
    [still] = listing.json()["endpoints"]
    assert (still["id"], still["description"], still["active"]) == (endpoint["id"], "", True)
    listing = await ds.client.get(f"{api}/incoming", cookies=root_cookies(ds))
    [still_in] = listing.json()["incoming"]
    assert (still_in["id"], still_in["description"], still_in["active"]) == (
        incoming["id"],
        "",
        True,
    )
    again = await ds.client.post(
        "/-/webhooks/in/partner",
        content=b"{}",
        headers={"content-type": "application/json", "authorization": f"Bearer {token}"},
    )
    assert again.status_code == 200, again.text
    await idle(ds)
    assert len(receiver.received) == 1
    assert sorted(await audit_actions(ds)) == ["endpoint-create", "incoming-create"]


@pytest.mark.parametrize("actor", [None, "alice"])
async def test_every_read_route_needs_a_webhooks_permission(ds, receiver, actor):
    """README: webhooks-view-log (or webhooks-manage) is needed to "see endpoints, delivery logs
    and received payloads"; the pages and the API check on every request."""
    endpoint, delivery_id, incoming, _ = await root_made_things(ds, receiver)
    api = "/-/webhooks/api"
    reads = [
        f"{api}/endpoints/{endpoint['id']}",
        f"{api}/endpoints/{endpoint['id']}/deliveries",
        f"{api}/deliveries/{delivery_id}",
        f"{api}/incoming/{incoming['id']}",
        f"{api}/incoming/{incoming['id']}/received",
        f"/-/webhooks/incoming/{incoming['id']}",
    ]
    cookies = cookies_for(ds, actor) if actor else {}
    for path in reads:
        response = await ds.client.get(path, cookies=cookies)
        assert response.status_code == 403, (path, response.text)
        assert "private-payload-text" not in response.text
        assert receiver.url not in response.text
    # The same reads answer root, with what the refusals held back.
    for path in reads:
        response = await ds.client.get(path, cookies=root_cookies(ds))
        assert response.status_code == 200, (path, response.text)
    received = await ds.client.get(reads[4], cookies=root_cookies(ds))
    assert "private-payload-text" in received.text
