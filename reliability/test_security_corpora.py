"""The corpora of corpora.py against every plugin and core, over HTTP on a real server.

Open redirects, SSRF, cross-site POSTs with cookies, reading or changing another actor's data,
and leaks of a private table. (Stored XSS is checked in a browser: test_xss_browser.py.)
"""

import html
import html.parser
import json
import re
import socket
import time
import urllib.parse

import pytest
from corpora import (
    CROSS_SITE_HEADERS,
    ENCODED_REDIRECT_TARGETS,
    OFF_SITE_TARGETS,
    SSRF_LOOPBACK_HOSTS,
    SSRF_SPELLED_URLS,
    SSRF_TRAILING_DOT_URLS,
    SSRF_UNRESOLVABLE_URLS,
    SSRF_URLS,
)
from reliability_helpers import (
    Actors,
    Receiver,
    client,
    cookie_header,
    create_bookmark,
    create_comment_thread,
    create_endpoint,
    create_link,
    make_data_db,
    rows,
    serve_all,
    server_config,
    tracebacks,
)

PRIVATE_ROW_VALUE = "launch-code-1234"  # a value in the private table's only row
PRIVATE_COMMENT = "private-comment-about-the-secret-table"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("security")
    server = serve_all(tmp_path, make_data_db(tmp_path / "data.db"))
    actors = Actors(server)
    with client(server) as http:
        thread = create_comment_thread(http, actors.alice, "alice's comment @bob")
        private_thread = create_comment_thread(
            http, actors.root, PRIVATE_COMMENT + " @alice", table="secret"
        )
        server.seed = {
            "thread": thread,
            "private_thread": private_thread,
            "bookmark": create_bookmark(http, actors.alice, "/data/species?name=mine", title="A"),
            "shared_bookmark": create_bookmark(
                http, actors.alice, "/data/species?name=ours", shared=True
            ),
            "private_bookmark": create_bookmark(
                http, actors.root, "/data/secret", title=PRIVATE_COMMENT, shared=True
            ),
            "link": create_link(http, actors.alice, "/data/species", title="alice link"),
            "private_link": create_link(http, actors.root, "/data/secret/1"),
            "endpoint": create_endpoint(http, actors.root, "https://example.com/hook"),
        }
    server.actors = actors
    server.http = client(server)
    yield server
    server.http.close()
    server.stop()
    assert tracebacks(server) == ""


def request(server, method, path, actor, headers=None, **kwargs):
    all_headers = dict(cookie_header(getattr(server.actors, actor)), **(headers or {}))
    response = server.http.request(method, path, headers=all_headers, **kwargs)
    assert response.status_code < 500, (method, path, response.status_code, response.text[:300])
    return response


def stays_on_site(server, location):
    """A redirect target that a browser resolves to this server, and to nothing else."""
    resolved = urllib.parse.urlsplit(urllib.parse.urljoin(server.url + "/", location))
    return resolved.scheme == "http" and resolved.netloc == server.url.split("//")[1]


# ---------------------------------------------------------------- open redirect


@pytest.mark.parametrize("target", OFF_SITE_TARGETS)
def test_comment_forms_never_redirect_off_site(server, target):
    thread_id = server.seed["thread"]["id"]
    response = request(
        server,
        "POST",
        f"/-/comments/api/threads/{thread_id}/comments",
        "alice",
        content=urllib.parse.urlencode({"body": "reply", "next": target}),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 303, response.text[:300]
    assert stays_on_site(server, response.headers["location"]), response.headers["location"]


@pytest.mark.parametrize("target", OFF_SITE_TARGETS)
def test_short_links_never_lead_off_site(server, target):
    response = request(server, "POST", "/-/l/api/links", "alice", json={"target": target})
    if response.status_code == 201:
        code = response.json()["link"]["code"]
        followed = request(server, "GET", f"/-/l/{code}", "alice")
        location = followed.headers.get("location")
        assert location is None or stays_on_site(server, location), location
    else:
        assert response.status_code == 400, response.text[:300]
    listing = request(server, "GET", "/-/l/api/links", "alice").json()["links"]
    assert all(stays_on_site(server, link["target"]) for link in listing)


@pytest.mark.parametrize("target", OFF_SITE_TARGETS)
def test_bookmarks_only_point_inside_the_site(server, target):
    response = request(server, "POST", "/-/bookmarks/api/bookmarks", "alice", json={"url": target})
    if response.status_code in (200, 201):
        assert stays_on_site(server, response.json()["bookmark"]["url"])
    else:
        assert response.status_code == 400, response.text[:300]


def location_is_safe(server, location):
    """Stays on this site as sent, and in every percent-decoded form: printable ASCII, one
    leading slash, no backslash, no control character."""
    if not stays_on_site(server, location) or not all(" " < c < "\x7f" for c in location):
        return False
    form = location
    for _ in range(4):
        form = urllib.parse.unquote(form)
        if not form.startswith("/") or form.startswith("//") or "\\" in form:
            return False
        if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in form):
            return False
    return True


def form_post(server, path, fields):
    return request(
        server,
        "POST",
        path,
        "alice",
        content=urllib.parse.urlencode(fields).encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )


@pytest.fixture(scope="module")
def redirect_server(tmp_path_factory):
    """A server of its own: these tests write a few hundred comments, which would push the
    private seed comment off the first activity page that the leak tests read."""
    tmp_path = tmp_path_factory.mktemp("redirects")
    server = serve_all(tmp_path, make_data_db(tmp_path / "data.db"))
    server.actors = Actors(server)
    server.http = client(server)
    yield server
    server.http.close()
    server.stop()
    assert tracebacks(server) == ""


@pytest.fixture
def next_routes(redirect_server):
    """Every comments route that takes a form and answers with a redirect to its ``next``, on
    a fresh thread (the last one deletes its comment)."""
    server = redirect_server
    with client(server) as http:
        thread = create_comment_thread(http, server.actors.alice, "next-style target")
    thread_id, comment_id = thread["id"], thread["comments"][0]["id"]
    return [
        ("/-/comments/api/threads", {"database": "data", "table": "species", "body": "x"}),
        (f"/-/comments/api/threads/{thread_id}/comments", {"body": "reply"}),
        (f"/-/comments/api/threads/{thread_id}/resolve", {}),
        (f"/-/comments/api/threads/{thread_id}/reopen", {}),
        (f"/-/comments/api/comments/{comment_id}/edit", {"body": "edited"}),
        (f"/-/comments/api/comments/{comment_id}/reactions", {"emoji": "+1"}),
        ("/-/comments/api/inbox/read", {"all": "1"}),
        (f"/-/comments/api/comments/{comment_id}/delete", {}),
    ]


@pytest.mark.parametrize("target", ENCODED_REDIRECT_TARGETS + OFF_SITE_TARGETS)
def test_every_next_parameter_redirects_only_on_site(redirect_server, next_routes, target):
    server = redirect_server
    for path, fields in next_routes:
        response = form_post(server, path, dict(fields, next=target))
        assert response.status_code == 303, (path, response.text[:300])
        location = response.headers["location"]
        assert location_is_safe(server, location), (path, location)
    fragment = request(
        server,
        "GET",
        "/-/comments/target?"
        + urllib.parse.urlencode(
            {"database": "data", "table": "species", "fragment": "1", "next": target}
        ),
        "alice",
    )
    for value in re.findall(r'name="next" value="([^"]*)"', fragment.text):
        assert location_is_safe(server, html.unescape(value)), value


@pytest.mark.parametrize("target", ENCODED_REDIRECT_TARGETS)
def test_encoded_short_link_and_bookmark_targets_stay_on_site(redirect_server, target):
    server = redirect_server
    response = request(server, "POST", "/-/l/api/links", "alice", json={"target": target})
    if response.status_code == 201:
        code = response.json()["link"]["code"]
        location = request(server, "GET", f"/-/l/{code}", "alice").headers.get("location")
        assert location is None or location_is_safe(server, location), location
    else:
        assert response.status_code == 400, response.text[:300]
    response = request(server, "POST", "/-/bookmarks/api/bookmarks", "alice", json={"url": target})
    if response.status_code in (200, 201):
        assert location_is_safe(server, response.json()["bookmark"]["url"])
    else:
        assert response.status_code == 400, response.text[:300]


# ---------------------------------------------------------------- SSRF


@pytest.mark.parametrize("url", SSRF_URLS)
def test_webhook_endpoints_refuse_internal_addresses(server, url):
    before = rows(server.internal_path, "select id, url from datasette_internal_webhooks_endpoints")
    created = request(server, "POST", "/-/webhooks/api/endpoints", "root", json={"url": url})
    assert created.status_code == 400, created.text[:300]
    endpoint_id = server.seed["endpoint"]["id"]
    changed = request(
        server, "POST", f"/-/webhooks/api/endpoints/{endpoint_id}", "root", json={"url": url}
    )
    assert changed.status_code == 400, changed.text[:300]
    after = rows(server.internal_path, "select id, url from datasette_internal_webhooks_endpoints")
    assert after == before


@pytest.mark.parametrize("url", SSRF_SPELLED_URLS + SSRF_TRAILING_DOT_URLS + SSRF_UNRESOLVABLE_URLS)
def test_webhook_endpoints_refuse_every_spelling_and_name_the_setting(server, url):
    """Hosts the URL stack normalizes into an IP literal, trailing-dot names, names that do not
    resolve: refused on create and on update, with the setting that would allow it named."""
    before = rows(server.internal_path, "select id, url from datasette_internal_webhooks_endpoints")
    endpoint_id = server.seed["endpoint"]["id"]
    for path in ("/-/webhooks/api/endpoints", f"/-/webhooks/api/endpoints/{endpoint_id}"):
        response = request(server, "POST", path, "root", json={"url": url})
        assert response.status_code == 400, response.text[:300]
        [error] = response.json()["errors"]
        assert "allow_networks" in error or "allow_hosts" in error, error
    after = rows(server.internal_path, "select id, url from datasette_internal_webhooks_endpoints")
    assert after == before


def test_no_delivery_reaches_loopback_whatever_the_spelling(tmp_path):
    """Endpoints saved while loopback was allow-listed, then served without the allow-list (a
    config change, or URLs stored by an older version): the address connected to is checked,
    so neither a test event nor a data event reaches the listener on 127.0.0.1."""
    data_db = make_data_db(tmp_path / "data.db")
    # The ASCII integer, octal and hex spellings are refused whatever the allow-list says.
    spellings = [host for host in SSRF_LOOPBACK_HOSTS if not host.isascii()]
    spellings += ["[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "localhost", socket.gethostname()]
    spellings += ["localhost."]
    allow_everything_local = server_config(
        allow_networks=["127.0.0.0/8", "::ffff:127.0.0.0/104"], allow_hosts=["localhost."]
    )
    with Receiver() as receiver:
        first = serve_all(tmp_path, data_db, config=allow_everything_local)
        try:
            with client(first) as http:
                root = first.cookies_for("root")
                endpoints = [
                    create_endpoint(http, root, f"http://{host}:{receiver.port}/hook")
                    for host in spellings
                ]
        finally:
            first.stop()
        second = serve_all(tmp_path, data_db, env={"DATASETTE_SECRET": first.secret})
        try:
            with client(second) as http:
                root = cookie_header(second.cookies_for("root"))
                for endpoint in endpoints:
                    path = f"/-/webhooks/api/endpoints/{endpoint['id']}/test"
                    assert http.post(path, headers=root).status_code == 202
                inserted = http.post(
                    "/data/species/-/insert", json={"row": {"name": "x"}}, headers=root
                )
                assert inserted.status_code == 201, inserted.text
                for endpoint in endpoints:
                    attempts = wait_for_attempts(http, root, endpoint["id"], 2)
                    assert not any(attempt["succeeded"] for attempt in attempts), endpoint["url"]
        finally:
            second.stop()
        assert receiver.received == []
        assert tracebacks(second) == ""


def wait_for_attempts(http, headers, endpoint_id, count, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        path = f"/-/webhooks/api/endpoints/{endpoint_id}/attempts"
        attempts = http.get(path, headers=headers).json()["attempts"]
        if len(attempts) >= count or time.monotonic() > deadline:
            return attempts
        time.sleep(0.05)


def test_webhook_endpoints_refuse_a_host_name_that_resolves_to_this_machine(server):
    name = socket.gethostname()
    assert socket.getaddrinfo(name, 80)[0][4][0].startswith("127.")
    created = request(
        server, "POST", "/-/webhooks/api/endpoints", "root", json={"url": f"http://{name}:8001/"}
    )
    assert created.status_code == 400, created.text[:300]


# ---------------------------------------------------------------- cross-site POST


def cross_site_writes(seed):
    thread, comment = seed["thread"]["id"], seed["thread"]["comments"][0]["id"]
    return [
        ("alice", "/-/comments/api/threads", {"database": "data", "table": "species", "body": "x"}),
        ("alice", f"/-/comments/api/threads/{thread}/comments", {"body": "x"}),
        ("alice", f"/-/comments/api/threads/{thread}/resolve", {}),
        ("alice", f"/-/comments/api/comments/{comment}/edit", {"body": "changed"}),
        ("alice", f"/-/comments/api/comments/{comment}/delete", {}),
        ("alice", f"/-/comments/api/comments/{comment}/reactions", {"emoji": "+1"}),
        ("alice", "/-/bookmarks/api/bookmarks", {"url": "/data/species?csrf=1"}),
        ("alice", f"/-/bookmarks/api/bookmarks/{seed['bookmark']['id']}", {"title": "changed"}),
        ("alice", "/-/bookmarks/api/import", {"bookmarks": [{"url": "/data/species?i=1"}]}),
        ("alice", "/-/l/api/links", {"target": "/data/species"}),
        ("alice", f"/-/l/api/links/{seed['link']['code']}", {"title": "changed"}),
        ("alice", f"/-/l/api/links/{seed['link']['code']}/delete", {}),
        ("alice", "/-/links", {"target": "/data/species"}),
        ("alice", "/-/bookmarks/new", {"url": "/data/species?csrf=2"}),
        ("alice", f"/-/bookmarks/{seed['bookmark']['id']}/delete", {}),
        ("root", "/-/webhooks/api/endpoints", {"url": "https://example.com/csrf"}),
        ("root", f"/-/webhooks/api/endpoints/{seed['endpoint']['id']}/delete", {}),
        ("root", f"/-/webhooks/api/endpoints/{seed['endpoint']['id']}/rotate-secret", {}),
        ("root", "/-/webhooks/api/incoming", {"slug": "csrf-in", "scheme": "bearer"}),
        (
            "root",
            "/-/internal/settings",
            {"plugin": "datasette-internal-webhooks", "key": "paused", "value": True},
        ),
    ]


STATE_TABLES = [
    "datasette_internal_comments_comments",
    "datasette_internal_comments_threads",
    "datasette_internal_comments_reactions",
    "datasette_internal_bookmarks_bookmarks",
    "datasette_internal_bookmarks_links",
    "datasette_internal_webhooks_endpoints",
    "datasette_internal_webhooks_incoming",
    "_datasette_internal_settings",
    "_datasette_internal_secrets",
]


def state(server):
    return {table: rows(server.internal_path, f"select * from {table}") for table in STATE_TABLES}


@pytest.mark.parametrize("headers", CROSS_SITE_HEADERS)
@pytest.mark.parametrize("encoding", ["json", "form"])
def test_cross_site_posts_with_cookies_are_refused_and_change_nothing(server, headers, encoding):
    before = state(server)
    for actor, path, body in cross_site_writes(server.seed):
        if encoding == "json":
            response = request(server, "POST", path, actor, headers=headers, json=body)
        else:
            form = {key: str(value) for key, value in body.items() if not isinstance(value, list)}
            response = request(
                server,
                "POST",
                path,
                actor,
                headers=dict(headers, **{"content-type": "application/x-www-form-urlencoded"}),
                content=urllib.parse.urlencode(form),
            )
        assert response.status_code == 403, (path, response.status_code, response.text[:200])
    assert state(server) == before


# ---------------------------------------------------------------- other actors' data


def test_bob_cannot_read_or_change_alices_private_bookmark_or_link(server):
    bookmark, link = server.seed["bookmark"], server.seed["link"]
    before = state(server)
    path = f"/-/bookmarks/api/bookmarks/{bookmark['id']}"
    assert request(server, "GET", path, "bob").status_code == 404
    assert request(server, "POST", path, "bob", json={"title": "bob was here"}).status_code == 404
    assert request(server, "DELETE", path, "bob").status_code == 404
    link_path = f"/-/l/api/links/{link['code']}"
    assert request(server, "GET", link_path, "bob").status_code == 404
    assert request(server, "POST", link_path, "bob", json={"title": "bob"}).status_code == 404
    assert request(server, "POST", link_path + "/delete", "bob").status_code == 404
    assert request(server, "DELETE", link_path, "bob").status_code == 404
    assert request(server, "GET", "/-/l/api/links?all=1", "bob").status_code == 403
    mine = request(server, "GET", "/-/bookmarks/api/bookmarks", "bob").json()["bookmarks"]
    assert bookmark["id"] not in [b["id"] for b in mine]
    assert server.seed["shared_bookmark"]["id"] in [b["id"] for b in mine]
    bobs_links = request(server, "GET", "/-/l/api/links", "bob").json()["links"]
    assert link["code"] not in [item["code"] for item in bobs_links]
    exported = request(server, "GET", "/-/bookmarks/api/export", "bob").json()["bookmarks"]
    assert exported == []
    assert state(server) == before


def test_bob_cannot_edit_or_delete_alices_comment(server):
    comment_id = server.seed["thread"]["comments"][0]["id"]
    before = state(server)
    base = f"/-/comments/api/comments/{comment_id}"
    assert request(server, "POST", base + "/edit", "bob", json={"body": "bob"}).status_code == 403
    assert request(server, "POST", base + "/delete", "bob", json={}).status_code == 403
    assert state(server) == before


def test_only_root_reaches_core_admin_and_webhooks(server):
    for actor in ("anonymous", "alice"):
        for path in [
            "/-/internal.json",
            "/-/internal/audit.json",
            "/-/internal/settings.json",
            "/-/webhooks/api/endpoints",
            "/-/webhooks/api/incoming",
            f"/-/webhooks/api/endpoints/{server.seed['endpoint']['id']}/attempts",
        ]:
            assert request(server, "GET", path, actor).status_code == 403, (actor, path)
        for path, body in [
            (
                "/-/internal/settings",
                {"plugin": "datasette-internal-webhooks", "key": "paused", "value": True},
            ),
            ("/-/webhooks/api/endpoints", {"url": "https://example.com/x"}),
            ("/-/webhooks/api/incoming", {"slug": "mine-now", "scheme": "bearer"}),
        ]:
            assert request(server, "POST", path, actor, json=body).status_code == 403, (actor, path)


def test_a_job_is_visible_only_to_its_owner_and_root(server):
    job = request(server, "POST", "/-/bookmarks/api/scan", "alice").json()
    path = f"/-/internal/jobs/{job['job_id']}"
    assert request(server, "GET", path + ".json", "alice").status_code == 200
    assert request(server, "GET", path + ".json", "root").status_code == 200
    for actor in ("bob", "anonymous"):
        assert request(server, "GET", path + ".json", actor).status_code == 404
        assert request(server, "POST", path + "/cancel", actor).status_code == 404


# ---------------------------------------------------------------- private-table leaks


def reads_for(server):
    private = server.seed["private_thread"]
    comment_id = private["comments"][0]["id"]
    return [
        "/-/comments/api/activity",
        "/-/comments/api/activity?q=private",
        "/-/comments/api/activity?database=data&table=secret",
        "/-/comments/api/threads?database=data&table=secret",
        "/-/comments/api/threads?database=data&table=secret&row=1",
        "/-/comments/api/badges?database=data&table=secret&row=1",
        "/-/comments/api/inbox",
        f"/-/comments/api/threads/{private['id']}",
        f"/-/comments/api/comments/{comment_id}/revisions",
        "/-/comments",
        "/-/comments/inbox",
        f"/-/comments/threads/{private['id']}",
        "/-/bookmarks/api/bookmarks",
        "/-/bookmarks/api/bookmarks?scope=shared",
        "/-/bookmarks/api/bookmarks?q=private",
        f"/-/bookmarks/api/bookmarks/{server.seed['private_bookmark']['id']}",
        "/-/bookmarks",
        f"/-/l/{server.seed['private_link']['code']}",
        f"/-/l/api/links/{server.seed['private_link']['code']}",
    ]


@pytest.mark.parametrize("actor", ["anonymous", "alice"])
def test_nothing_about_the_private_table_leaks(server, actor):
    leaks = []
    for path in reads_for(server):
        response = request(server, "GET", path, actor)
        for secret in (PRIVATE_ROW_VALUE, PRIVATE_COMMENT, "/data/secret"):
            if secret in response.text:
                leaks.append((path, secret))
        if path.startswith("/-/l/"):
            assert "location" not in response.headers, path
    assert leaks == []


def test_root_does_see_the_private_table_so_the_leak_test_can_fail(server):
    activity = request(server, "GET", "/-/comments/api/activity", "root").text
    assert PRIVATE_COMMENT in activity
    followed = request(server, "GET", f"/-/l/{server.seed['private_link']['code']}", "root")
    assert followed.headers["location"].endswith("/data/secret/1")


# ---------------------------------------------------------------- core's settings page


class SettingInputs(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.inputs = []

    def handle_starttag(self, tag, attrs):
        if tag == "input" and ("class", "setting-value") in attrs:
            self.inputs.append(dict(attrs))


def test_core_settings_page_keeps_values_inside_their_attribute(server):
    value = ["*", 'say "hi"', "x autofocus onfocus=window.__xss=18 y"]
    saved = request(
        server,
        "POST",
        "/-/internal/settings",
        "root",
        json={"plugin": "datasette-internal-comments", "key": "enabled", "value": value},
    )
    assert saved.status_code == 200, saved.text
    page = request(server, "GET", "/-/internal/settings", "root").text
    request(
        server,
        "POST",
        "/-/internal/settings",
        "root",
        json={"plugin": "datasette-internal-comments", "key": "enabled", "reset": True},
    )
    parser = SettingInputs()
    parser.feed(page)
    assert [i for i in parser.inputs if "onfocus" in i or "autofocus" in i] == []
    assert value in [json.loads(i["value"]) for i in parser.inputs if i.get("value", "")[:1] == "["]
