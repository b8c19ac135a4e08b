import socket

import aiohttp
import pytest
from conftest import Receiver, create_endpoint, idle, root_cookies, shutdown
from datasette_internal_webhooks import store
from datasette_internal_webhooks.ssrf import (
    UnsafeURL,
    check_hostname,
    check_url,
    guarded_socket,
    parse_hosts,
    parse_networks,
)
from datasette_internal_webhooks.state import get_state


def segmented(text):
    """Digits as Unicode "segmented digits" (U+1FBF0..U+1FBF9), which yarl reads as ASCII."""
    return "".join(chr(0x1FBF0 + int(c)) if c.isdigit() else c for c in text)


def fullwidth(text):
    return "".join(chr(0xFF10 + int(c)) if c.isdigit() else c for c in text)


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
    "http://[::127.0.0.1]/",
    "http://127.0.0.1./",
    f"http://{segmented('127.0.0.1')}/",
    f"http://1{segmented('27.0.0.1')}/",
    f"http://{fullwidth('127.0.0.1')}/",
    f"http://{fullwidth('169.254.169.254')}/",
    "http://127\u30020\u30020\u30021/",  # ideographic full stops
    "http://\u246b\u2466.0.0.1/",  # circled numbers twelve and seven
]

# Loopback written every way the URL stack turns into a connection to the receiver (port added
# by the tests), with what the save-time check alone says about each.
LOOPBACK_HOSTS = [
    segmented("127.0.0.1"),
    "1" + segmented("27.0.0.1"),
    fullwidth("127.0.0.1"),
    "127\u30020\u30020\u30021",
    "2130706433",
    "0177.0.0.1",
    "0x7f000001",
    "0x7f.0.0.1",
    "127.1",
    "[::ffff:127.0.0.1]",
    "[0:0:0:0:0:ffff:7f00:1]",
    "127.0.0.1.",
    "localhost",
    "localhost.",
    "LOCALHOST.",
]


@pytest.mark.parametrize("url", UNSAFE_URLS)
def test_non_public_literals_are_refused(url):
    with pytest.raises(UnsafeURL) as refused:
        check_url(url)
    assert "allow_networks" in str(refused.value)


@pytest.mark.parametrize(
    "url", ["https://example.com/hook", "http://93.184.216.34/x", "https://[2606:4700::1111]/"]
)
def test_public_urls_pass(url):
    check_url(url)


def test_allow_list_admits_only_its_networks():
    allow = parse_networks(["127.0.0.1/32"])
    check_url("http://127.0.0.1:9/", allow)
    check_url(f"http://{segmented('127.0.0.1')}:9/", allow)
    for url in ("http://127.0.0.2/", "http://[::1]/", "http://169.254.169.254/"):
        with pytest.raises(UnsafeURL):
            check_url(url, allow)


@pytest.mark.parametrize("host", ["127.1", "2130706433", "0x7f.0.0.1", "127.0.0.1."])
def test_an_allowed_address_must_still_be_written_as_a_dotted_quad(host):
    """aiohttp refuses these spellings at send time: refuse them when saving, saying why."""
    with pytest.raises(UnsafeURL, match="write 127.0.0.1"):
        check_url(f"http://{host}/", parse_networks(["127.0.0.1/32"]))


@pytest.mark.parametrize(
    "url", ["http://exa mple.com/", "http://a..b/", "http://localhost../", "http://-x.com/"]
)
def test_malformed_host_names_are_refused(url):
    with pytest.raises(UnsafeURL, match="not a valid hostname"):
        check_url(url)


def test_https_only():
    check_url("https://example.com/", https_only=True)
    with pytest.raises(UnsafeURL):
        check_url("http://example.com/", https_only=True)


async def test_a_name_must_resolve_to_an_allowed_address_when_saved():
    with pytest.raises(UnsafeURL, match="resolves only to non-public addresses.*allow_networks"):
        await check_hostname("localhost", [])
    await check_hostname("localhost", parse_networks(["127.0.0.1/32", "::1/128"]))
    with pytest.raises(UnsafeURL, match="does not resolve.*allow_hosts"):
        await check_hostname("nothing-here.invalid", [])
    await check_hostname("nothing-here.invalid", [], parse_hosts(["Nothing-Here.invalid."]))
    await check_hostname("nothing-here.invalid", [], must_resolve=False)


def test_allow_hosts_takes_names_only():
    assert parse_hosts(["Hooks.Example.com", "b\u00fccher.de."]) == {
        "hooks.example.com",
        "xn--bcher-kva.de",
    }
    for bad in (["127.0.0.1"], ["a b"], [""], "hooks.example.com", [1]):
        with pytest.raises(ValueError):
            parse_hosts(bad)


# ---------------------------------------------------------------- the connect-time check


@pytest.mark.parametrize("host", [segmented("127.0.0.1"), "127.0.0.1", "localhost"])
async def test_the_socket_factory_refuses_loopback_before_connecting(receiver, host):
    """The check at the bottom, alone (no save-time check, no pre-send check): aiohttp hands it
    the address of every connection, IP literals included, after yarl's normalization."""
    url = f"http://{host}:{receiver.port}/hook"
    connector = aiohttp.TCPConnector(socket_factory=guarded_socket([]))
    async with aiohttp.ClientSession(connector=connector) as session:
        with pytest.raises(aiohttp.ClientConnectorError) as refused:
            await session.post(url, data=b"{}")
    assert "non-public address" in str(refused.value)
    allowed = aiohttp.TCPConnector(socket_factory=guarded_socket(parse_networks(["127.0.0.1/32"])))
    async with aiohttp.ClientSession(connector=allowed) as session:
        async with session.post(url, data=b"{}") as response:
            assert response.status == 200
    assert len(receiver.received) == 1  # only the allowed request arrived


async def endpoint_with_stored_url(datasette, url):
    """An endpoint whose URL was stored without today's save-time check (by an older version,
    or under an allow-list since removed): only the send-time checks stand in the way."""
    endpoint, _ = await create_endpoint(datasette, "http://93.184.216.34/hook")
    state = get_state(datasette)
    await store.update_endpoint(datasette, endpoint["id"], {"url": url})
    await state.reload_endpoints()
    return endpoint


@pytest.mark.parametrize("host", LOOPBACK_HOSTS)
async def test_no_delivery_reaches_loopback_whatever_the_spelling(make_ds, receiver, host):
    ds = await make_ds({"allow_networks": []})
    endpoint = await endpoint_with_stored_url(ds, f"http://{host}:{receiver.port}/hook")
    tested = await ds.client.post(
        f"/-/webhooks/api/endpoints/{endpoint['id']}/test", cookies=root_cookies(ds)
    )
    assert tested.status_code == 202
    inserted = await ds.client.post(
        "/data/species/-/insert", json={"row": {"name": "x"}}, cookies=root_cookies(ds)
    )
    assert inserted.status_code == 201
    await idle(ds)
    assert receiver.received == []
    attempts = (
        await ds.client.get(
            f"/-/webhooks/api/endpoints/{endpoint['id']}/attempts", cookies=root_cookies(ds)
        )
    ).json()["attempts"]
    assert len(attempts) == 2
    assert not any(attempt["succeeded"] for attempt in attempts)


async def test_hostnames_are_checked_at_connect_time(make_ds, receiver, frozen_time):
    """No resolver filters names in the worker: the socket factory refuses the address."""
    # frozen_time: the refused attempt's retry never falls due, however slow the machine.
    ds = await make_ds({"allow_networks": []})
    endpoint = await endpoint_with_stored_url(ds, f"http://localhost:{receiver.port}/hook")
    await ds.client.post(
        f"/-/webhooks/api/endpoints/{endpoint['id']}/test", cookies=root_cookies(ds)
    )
    await idle(ds)
    assert receiver.received == []
    [attempt] = (
        await ds.client.get(
            f"/-/webhooks/api/endpoints/{endpoint['id']}/attempts", cookies=root_cookies(ds)
        )
    ).json()["attempts"]
    assert "non-public address, not in allow_networks" in attempt["error"]


async def test_redirects_to_loopback_are_not_followed(ds, receiver):
    """The receiver is allow-listed; the address it redirects to is another local listener."""
    with Receiver() as target:
        location = f"http://{segmented('127.0.0.1')}:{target.port}/stolen"
        receiver.respond = lambda n: (307, {"Location": location}, 0)
        endpoint, _ = await create_endpoint(ds, receiver.url)
        await ds.client.post(
            f"/-/webhooks/api/endpoints/{endpoint['id']}/test", cookies=root_cookies(ds)
        )
        await idle(ds)
        assert len(receiver.received) == 1
        assert target.received == []


# ---------------------------------------------------------------- saving


async def test_saving_refuses_private_targets_without_an_allow_list(make_ds):
    ds = await make_ds({"allow_networks": []})
    for url in UNSAFE_URLS[:6] + UNSAFE_URLS[-6:] + ["http://localhost:9/hook"]:
        response = await ds.client.post(
            "/-/webhooks/api/endpoints", json={"url": url}, cookies=root_cookies(ds)
        )
        assert response.status_code == 400, url
        [error] = response.json()["errors"]
        assert "non-public" in error and "allow_networks" in error, error


@pytest.mark.parametrize("host", LOOPBACK_HOSTS + ["nothing-here.invalid", socket.gethostname()])
async def test_every_loopback_spelling_is_refused_on_create_and_on_update(make_ds, host):
    ds = await make_ds({"allow_networks": []})
    endpoint, _ = await create_endpoint(ds, "http://93.184.216.34/hook")
    url = f"http://{host}:9/hook"
    created = await ds.client.post(
        "/-/webhooks/api/endpoints", json={"url": url}, cookies=root_cookies(ds)
    )
    assert created.status_code == 400, created.text
    updated = await ds.client.post(
        f"/-/webhooks/api/endpoints/{endpoint['id']}", json={"url": url}, cookies=root_cookies(ds)
    )
    assert updated.status_code == 400, updated.text
    [error] = updated.json()["errors"]
    assert "allow_networks" in error or "allow_hosts" in error, error
    listed = (await ds.client.get("/-/webhooks/api/endpoints", cookies=root_cookies(ds))).json()
    assert [e["url"] for e in listed["endpoints"]] == ["http://93.184.216.34/hook"]


async def test_a_name_that_does_not_resolve_needs_allow_hosts(make_ds):
    url = "https://nothing-here.invalid/hook"
    ds = await make_ds({"allow_networks": []})
    response = await ds.client.post(
        "/-/webhooks/api/endpoints", json={"url": url}, cookies=root_cookies(ds)
    )
    assert response.status_code == 400
    assert "does not resolve" in response.json()["errors"][0]
    await shutdown(ds)
    allowed = await make_ds({"allow_networks": [], "allow_hosts": ["nothing-here.invalid"]})
    endpoint, _ = await create_endpoint(allowed, url)
    assert endpoint["url"] == url


async def test_connect_time_check_refuses_what_was_allowed_before(make_ds, receiver, frozen_time):
    """Endpoints saved under an allow-list, then the allow-list is removed: nothing is sent."""
    # frozen_time: the refused attempt's retry never falls due, however slow the machine.
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
