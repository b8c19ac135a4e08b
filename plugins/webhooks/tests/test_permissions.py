import pytest
from conftest import create_endpoint, root_cookies
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
    raw = (tmp_path / "internal.db").read_bytes()
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
