import sqlite3

import pytest
from conftest import ALLOW_LOOPBACK, create_endpoint, idle, root_cookies, shutdown, signed_by
from datasette.utils import StartupError
from datasette_internal_db.testing import close, make_datasette

SECRET = "whsec_" + "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlYw=="


async def test_config_endpoints_sync_at_startup(make_ds, receiver):
    declared = {
        "name": "ops",
        "url": receiver.url,
        "event_types": ["insert-rows"],
        "database": "data",
        "secret": SECRET,
    }
    ds = await make_ds({"endpoints": [declared]})
    [endpoint] = (
        await ds.client.get("/-/webhooks/api/endpoints", cookies=root_cookies(ds))
    ).json()["endpoints"]
    assert endpoint["managed_by_config"] is True
    assert endpoint["filter_database"] == "data"
    change = await ds.client.post(
        f"/-/webhooks/api/endpoints/{endpoint['id']}",
        json={"url": receiver.url + "?x"},
        cookies=root_cookies(ds),
    )
    assert change.status_code == 400
    await ds.client.post(
        "/data/species/-/insert", json={"row": {"name": "a"}}, cookies=root_cookies(ds)
    )
    await idle(ds)
    [request] = receiver.wait_for(1)
    assert signed_by(SECRET, request)
    await shutdown(ds)

    ds = await make_ds({"endpoints": [dict(declared, event_types=["*"])]})
    [again] = (await ds.client.get("/-/webhooks/api/endpoints", cookies=root_cookies(ds))).json()[
        "endpoints"
    ]
    assert again["id"] == endpoint["id"]
    assert again["event_types"] == ["*"]
    await shutdown(ds)

    ds = await make_ds({"endpoints": []})
    listing = await ds.client.get("/-/webhooks/api/endpoints", cookies=root_cookies(ds))
    assert listing.json()["endpoints"] == []


async def test_bad_config_stops_startup(tmp_path, data_db):
    bad_configs = [
        {"allow_networks": ["not-a-network"]},
        {"endpoints": [{"name": "x", "url": "http://169.254.169.254/"}]},
        dict(ALLOW_LOOPBACK, endpoints=[{"url": "http://127.0.0.1:9/"}]),
        dict(
            ALLOW_LOOPBACK, endpoints=[{"name": "x", "url": "http://127.0.0.1:9/", "secret": "no"}]
        ),
        {"incoming_targets": {"in": {"database": "missing", "table": "t"}}},
        {"timeout_seconds": -1},
        {"timeout_seconds": float("nan")},
        {"timeout_seconds": 10**400},
        {"allow_hosts": ["127.0.0.1"]},
        {"allow_hosts": "hooks.example.com"},
        {"endpoints": [{"name": "x", "url": f"http://{chr(0x1FBF1)}27.0.0.1:9/"}]},
        {"log_retention_days": 10**12},
        {"disable_after_hours": 0},
        {"received_retention_days": "30"},
        {"paused": "yes"},
    ]
    for number, plugin_config in enumerate(bad_configs):
        with pytest.raises(StartupError):
            await make_datasette(
                tmp_path,
                files=[data_db],
                internal=f"internal-{number}.db",
                config={"plugins": {"datasette-internal-webhooks": plugin_config}},
            )


async def test_rotation_recovers_an_endpoint_whose_key_was_lost(tmp_path, data_db, receiver):
    """Datasette restarted with another secret: deliveries fail clearly until a rotation."""
    config = {"plugins": {"datasette-internal-webhooks": ALLOW_LOOPBACK}}

    async def start(secret):
        datasette = await make_datasette(tmp_path, files=[data_db], config=config, secret=secret)
        await datasette.start_background_tasks()
        return datasette

    ds = await start("first-secret")
    endpoint, _ = await create_endpoint(ds, receiver.url, event_types=["insert-rows"])
    await ds.invoke_shutdown()
    close(ds)
    ds = await start("second-secret")
    try:
        await ds.client.post(
            "/data/species/-/insert", json={"row": {"name": "a"}}, cookies=root_cookies(ds)
        )
        await idle(ds)
        attempts = (
            await ds.client.get(
                f"/-/webhooks/api/endpoints/{endpoint['id']}/attempts", cookies=root_cookies(ds)
            )
        ).json()["attempts"]
        assert "SecretsUnreadable" in attempts[0]["error"]
        assert receiver.received == []
        response = await ds.client.post(
            f"/-/webhooks/api/endpoints/{endpoint['id']}/rotate-secret", cookies=root_cookies(ds)
        )
        assert response.status_code == 200
        receiver.secrets = [response.json()["secret"]]
        await ds.client.post(
            "/data/species/-/insert", json={"row": {"name": "b"}}, cookies=root_cookies(ds)
        )
        await idle(ds)
        request = receiver.wait_for(1)[0]
        assert request["verified"] is True
        assert len(request["headers"]["webhook-signature"].split(" ")) == 1
    finally:
        await ds.invoke_shutdown()
        close(ds)


async def test_a_configured_endpoint_name_need_not_resolve_at_startup(make_ds):
    """The operator wrote it; a DNS outage must not stop the server. Connections are checked."""
    ds = await make_ds(
        {"endpoints": [{"name": "later", "url": "https://nothing-here.invalid/hook"}]}
    )
    listing = await ds.client.get("/-/webhooks/api/endpoints", cookies=root_cookies(ds))
    assert [e["url"] for e in listing.json()["endpoints"]] == ["https://nothing-here.invalid/hook"]


async def test_runtime_settings_are_bounded(ds):
    """A huge retention or failure period would overflow the worker's SQL parameters."""
    for key, value in (
        ("log_retention_days", 10**12),
        ("received_retention_days", 0),
        ("disable_after_hours", 10**15),
    ):
        response = await ds.client.post(
            "/-/internal/settings",
            json={"plugin": "datasette-internal-webhooks", "key": key, "value": value},
            cookies=root_cookies(ds),
        )
        assert response.status_code == 400, (key, response.text)


async def test_https_only_refuses_http_urls_from_the_api_and_the_config(make_ds, tmp_path, data_db):
    """README: `https_only` "refuse[s] http:// endpoint URLs" when an endpoint is saved
    ("created, its URL changed, or declared in `datasette.yaml`"); the API answers a 400 JSON
    error and stores nothing, and a mistake in the config "stops `datasette serve` with a
    message naming the key"."""
    import pytest
    from datasette.utils import StartupError

    ds = await make_ds({"https_only": True})
    refusal = {"ok": False, "errors": ["url must start with https://"]}
    created = await ds.client.post(
        "/-/webhooks/api/endpoints", json={"url": "http://127.0.0.1:9/"}, cookies=root_cookies(ds)
    )
    assert (created.status_code, created.json()) == (400, refusal)
    endpoint, _ = await create_endpoint(ds, "https://127.0.0.1:9/")
    changed = await ds.client.post(
        f"/-/webhooks/api/endpoints/{endpoint['id']}",
        json={"url": "http://127.0.0.1:9/"},
        cookies=root_cookies(ds),
    )
    assert (changed.status_code, changed.json()) == (400, refusal)
    listing = await ds.client.get("/-/webhooks/api/endpoints", cookies=root_cookies(ds))
    assert [e["url"] for e in listing.json()["endpoints"]] == ["https://127.0.0.1:9/"]

    declared = {"name": "plain", "url": "http://127.0.0.1:9/"}
    plugin_config = dict(ALLOW_LOOPBACK, https_only=True, endpoints=[declared])
    with pytest.raises(StartupError, match=r"endpoints\[0\] \(plain\): url must start with https"):
        await make_datasette(
            tmp_path,
            files=[data_db],
            internal="internal-https-only.db",
            config={"plugins": {"datasette-internal-webhooks": plugin_config}},
        )
    internal = sqlite3.connect(tmp_path / "internal-https-only.db")
    try:
        stored = internal.execute("select url from datasette_internal_webhooks_endpoints")
        assert stored.fetchall() == []
    finally:
        internal.close()
