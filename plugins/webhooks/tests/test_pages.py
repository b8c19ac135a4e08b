import json

from conftest import create_endpoint, idle, root_cookies


async def test_pages_render_endpoints_log_and_received(ds, receiver):
    endpoint, _ = await create_endpoint(ds, receiver.url, event_types=["insert-rows"])
    await ds.client.post(
        "/data/species/-/insert", json={"row": {"name": "<b>x</b>"}}, cookies=root_cookies(ds)
    )
    await idle(ds)
    created = await ds.client.post(
        "/-/webhooks/api/incoming",
        json={"slug": "bearer-in", "scheme": "bearer"},
        cookies=root_cookies(ds),
    )
    incoming = created.json()["incoming"]
    await ds.client.post(
        "/-/webhooks/in/bearer-in",
        content=b'{"note": "<script>alert(1)</script>"}',
        headers={
            "content-type": "application/json",
            "authorization": "Bearer " + created.json()["secret"],
        },
    )
    index = await ds.client.get("/-/webhooks", cookies=root_cookies(ds))
    assert index.status_code == 200
    assert receiver.url in index.text
    assert "bearer-in" in index.text
    page = await ds.client.get(f"/-/webhooks/endpoints/{endpoint['id']}", cookies=root_cookies(ds))
    assert page.status_code == 200
    assert "insert-rows" in page.text
    assert "webhooks-badge-succeeded" in page.text
    assert "HTTP 200" in page.text and "status 200" in page.text  # the response excerpt
    assert '<span aria-current="page">' + receiver.url in page.text  # breadcrumbs
    received = await ds.client.get(
        f"/-/webhooks/incoming/{incoming['id']}", cookies=root_cookies(ds)
    )
    assert received.status_code == 200
    assert "<script>alert(1)</script>" not in received.text
    assert "&lt;script&gt;" in received.text
    missing = await ds.client.get("/-/webhooks/endpoints/ep_0000", cookies=root_cookies(ds))
    assert missing.status_code == 404


async def test_delivery_detail_shows_payload_and_attempts(ds, receiver):
    endpoint, _ = await create_endpoint(ds, receiver.url, event_types=["insert-rows"])
    await ds.client.post(
        "/data/species/-/insert", json={"row": {"name": "x"}}, cookies=root_cookies(ds)
    )
    await idle(ds)
    listing = await ds.client.get(
        f"/-/webhooks/api/endpoints/{endpoint['id']}/deliveries?status=succeeded",
        cookies=root_cookies(ds),
    )
    [delivery] = listing.json()["deliveries"]
    detail = await ds.client.get(
        f"/-/webhooks/api/deliveries/{delivery['id']}", cookies=root_cookies(ds)
    )
    data = detail.json()["delivery"]
    assert data["payload"] == json.loads(receiver.received[0]["body"])
    assert [a["status_code"] for a in data["attempt_log"]] == [200]
    bad = await ds.client.get(
        f"/-/webhooks/api/endpoints/{endpoint['id']}/deliveries?status=lost",
        cookies=root_cookies(ds),
    )
    assert bad.status_code == 400


async def test_menu_links_to_webhooks_only_for_permitted_actors(ds):
    from datasette_internal_db.testing import cookies_for

    root_page = await ds.client.get("/", cookies=root_cookies(ds))
    assert 'href="/-/webhooks"' in root_page.text
    alice_page = await ds.client.get("/", cookies=cookies_for(ds, "alice"))
    assert 'href="/-/webhooks"' not in alice_page.text


async def test_the_menu_adds_no_uncached_permission_check_to_pages(ds, monkeypatch, frozen_time):
    """Issue 17: every page draws the menu; its webhooks answers come from core's recent_answers."""
    from datasette_internal_db.testing import cookies_for

    asked = []
    allowed_many = ds.allowed_many

    async def counting(*, actions, **kwargs):
        ours = sorted(action for action in actions if action.startswith("webhooks-"))
        if ours:
            asked.append(ours)
        return await allowed_many(actions=actions, **kwargs)

    monkeypatch.setattr(ds, "allowed_many", counting)
    alice = cookies_for(ds, "alice")
    assert (await ds.client.get("/", cookies=alice)).status_code == 200
    first = len(asked)
    # Both actions in one question (one query), not one question each.
    assert asked == [["webhooks-manage", "webhooks-view-log"]]
    for path in ("/", "/data", "/data/species"):
        assert (await ds.client.get(path, cookies=alice)).status_code == 200
    assert len(asked) == first, asked
    frozen_time.advance(2)  # past the answers' lifetime: asked again
    await ds.client.get("/", cookies=alice)
    assert len(asked) == 2 * first


async def test_lists_page_with_size_and_next(ds, receiver):
    endpoint, _ = await create_endpoint(ds, receiver.url, event_types=["insert-rows"])
    for name in ("a", "b", "c"):
        await ds.client.post(
            "/data/species/-/insert", json={"row": {"name": name}}, cookies=root_cookies(ds)
        )
    await idle(ds)
    for what in ("deliveries", "attempts"):
        path = f"/-/webhooks/api/endpoints/{endpoint['id']}/{what}?_size=2"
        seen = []
        while path:
            page = (await ds.client.get(path, cookies=root_cookies(ds))).json()
            seen += [row["id"] for row in page[what]]
            assert len(page[what]) <= 2
            assert (page["next"] is None) == (page["next_url"] is None)
            path = page["next_url"]
        assert len(seen) == 3 and seen == sorted(seen, reverse=True), (what, seen)
    for size in ("0", "501", "x"):
        response = await ds.client.get(
            f"/-/webhooks/api/endpoints/{endpoint['id']}/deliveries?_size={size}",
            cookies=root_cookies(ds),
        )
        assert response.status_code == 400, size


async def test_odd_ids_and_pages_are_4xx_not_500(ds, receiver):
    endpoint, _ = await create_endpoint(ds, receiver.url)
    paths = [
        "/-/webhooks/api/deliveries/99999999999999999999999",
        "/-/webhooks/api/deliveries/12",
        f"/-/webhooks/api/endpoints/{endpoint['id']}/attempts?_next=99999999999999999999999",
        f"/-/webhooks/api/endpoints/{endpoint['id']}/deliveries?_next=-1",
        "/-/webhooks/api/endpoints/ep_ffff",
        "/-/webhooks/api/incoming/in_ffff/received",
    ]
    for path in paths:
        response = await ds.client.get(path, cookies=root_cookies(ds))
        assert 400 <= response.status_code < 500, path
