import socket

import pytest
from conftest import create_endpoint, idle, root_cookies
from datasette_internal_webhooks.ssrf import (
    GuardedResolver,
    RefusedAddress,
    UnsafeURL,
    check_url,
    parse_networks,
)

UNSAFE_URLS = [
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/",
    "http://0.0.0.0/",
    "http://2130706433/",
    "http://0177.0.0.1/",
    "http://0x7f.0.0.1/",
    "http://127.1/",
    "http://127.0.0.1:8001/",
    "http://10.0.0.5/",
    "http://172.16.3.4/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",
    "http://224.0.0.1/",
    "http://255.255.255.255/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[64:ff9b::7f00:1]/",
    "http://[2002:7f00:1::]/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://[::]/",
    "http://[ff02::1]/",
]


@pytest.mark.parametrize("url", UNSAFE_URLS)
def test_non_public_literals_are_refused(url):
    with pytest.raises(UnsafeURL):
        check_url(url)


@pytest.mark.parametrize(
    "url", ["https://example.com/hook", "http://93.184.216.34/x", "https://[2606:4700::1111]/"]
)
def test_public_urls_pass(url):
    check_url(url)


def test_allow_list_admits_only_its_networks():
    allow = parse_networks(["127.0.0.1/32"])
    check_url("http://127.0.0.1:9/", allow)
    for url in ("http://127.0.0.2/", "http://[::1]/", "http://169.254.169.254/"):
        with pytest.raises(UnsafeURL):
            check_url(url, allow)


def test_https_only():
    check_url("https://example.com/", https_only=True)
    with pytest.raises(UnsafeURL):
        check_url("http://example.com/", https_only=True)


async def test_resolver_drops_loopback_answers_for_a_hostname():
    resolver = GuardedResolver()
    with pytest.raises(RefusedAddress):
        await resolver.resolve("localhost", 80, socket.AF_UNSPEC)
    allowed = GuardedResolver(parse_networks(["127.0.0.1/32"]))
    answers = await allowed.resolve("localhost", 80, socket.AF_UNSPEC)
    assert [a["host"] for a in answers] == ["127.0.0.1"]


async def test_saving_refuses_private_targets_without_an_allow_list(make_ds):
    ds = await make_ds({"allow_networks": []})
    for url in UNSAFE_URLS[:6] + ["http://localhost:9/hook"]:
        response = await ds.client.post(
            "/-/webhooks/api/endpoints", json={"url": url}, cookies=root_cookies(ds)
        )
        assert response.status_code == 400, url
        assert "non-public" in response.json()["errors"][0]


async def test_connect_time_check_refuses_what_was_allowed_before(make_ds, receiver, tmp_path):
    """Endpoints saved under an allow-list, then the allow-list is removed: nothing is sent."""
    from conftest import shutdown

    ds = await make_ds()
    literal, _ = await create_endpoint(ds, receiver.url, event_types=["insert-rows"])
    hostname, _ = await create_endpoint(
        ds, f"http://localhost:{receiver.port}/hook", event_types=["insert-rows"]
    )
    await shutdown(ds)
    ds = await make_ds({"allow_networks": []})
    response = await ds.client.post(
        "/data/species/-/insert", json={"row": {"name": "x"}}, cookies=root_cookies(ds)
    )
    assert response.status_code == 201
    await idle(ds)
    assert receiver.received == []
    for endpoint, expected in ((literal, "non-public address"), (hostname, "non-public")):
        data = (
            await ds.client.get(
                f"/-/webhooks/api/endpoints/{endpoint['id']}/attempts", cookies=root_cookies(ds)
            )
        ).json()
        [attempt] = data["attempts"]
        assert attempt["succeeded"] is False
        assert expected in attempt["error"]
