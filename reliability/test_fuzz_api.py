"""Hypothesis fuzzing of every JSON endpoint of core and the three plugins.

One real ``datasette serve`` (core + every plugin, ``--root``) per module; each example is one
HTTP request from an anonymous, an ordinary (alice) or the root actor with malformed JSON, wrong
types, huge and unicode strings, odd path parameters and query strings. Every response must be
below 500; afterwards the server log holds no traceback and the internal DB passes
``PRAGMA integrity_check``.
"""

import json
import urllib.parse

import pytest
from hypothesis import given
from hypothesis import strategies as st
from reliability_helpers import (
    Actors,
    client,
    cookie_header,
    create_bookmark,
    create_comment_thread,
    create_endpoint,
    create_link,
    integrity,
    make_data_db,
    serve_all,
    tracebacks,
)

HUGE = ["x" * 300_000, "é" * 70_000, "\U0001f600" * 20_000, "<b>" * 30_000, "9" * 5000]
ODD_TEXT = [
    "",
    " ",
    "\x00",
    "\ud800",
    "\u202eevil",
    "../../etc/passwd",
    "//evil.example",
    "javascript:alert(1)",
    "%00",
    "' or 1=1 --",
    "[species]",
    "\n\r\t",
    "Ω≈ç√∫",
    "١٢٣",
]
QUERY_TEXT = [text for text in ODD_TEXT if text != "\ud800"]  # httpx cannot send a lone surrogate
PLAUSIBLE = ["data", "species", "secret", "1", "2", "*", "/data/species", "/data/species/1", "root"]
ODD_NUMBERS = [0, -1, 2**63, -(2**63) - 1, 10**30, 1e308, float("inf"), float("nan"), 1.5, True]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=40),
    st.sampled_from(HUGE + ODD_TEXT + PLAUSIBLE + ODD_NUMBERS),
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
ODD_IDS = ["0", "1", "2", "9" * 25, "-1", "١", "1.0", "1e3", "%2e%2e", "a", "ep_", "in_", "0" * 300]


def bodies(fields):
    """A request body and content type: raw bytes, any JSON, or an object with known fields."""
    known_object = st.dictionaries(st.sampled_from(fields), json_values, max_size=len(fields))
    return st.one_of(
        st.tuples(st.binary(max_size=300), st.sampled_from(["application/json", None])),
        st.tuples(json_values.map(json.dumps).map(str.encode), st.just("application/json")),
        st.tuples(
            known_object.map(lambda data: json.dumps(data).encode()),
            st.sampled_from(["application/json", None, "text/plain"]),
        ),
        st.tuples(
            st.dictionaries(st.sampled_from(fields), st.text(max_size=30), max_size=len(fields))
            .map(urllib.parse.urlencode)
            .map(str.encode),
            st.just("application/x-www-form-urlencoded"),
        ),
    )


def query_args(names):
    return st.dictionaries(
        st.sampled_from(names),
        st.one_of(st.text(max_size=30), st.sampled_from(["x" * 4000] + QUERY_TEXT + PLAUSIBLE)),
        max_size=len(names),
    )


def seed_resources(server, slug):
    """One of each resource, so requests reach past "not found" into the real code."""
    actors = server.actors
    with client(server) as http:
        thread = create_comment_thread(http, actors.alice, "seed comment")
        create_comment_thread(http, actors.root, "private seed", table="secret")
        bookmark = create_bookmark(http, actors.alice, f"/data/species?name={slug}")
        link = create_link(http, actors.alice, "/data/species")
        endpoint = create_endpoint(http, actors.root, "https://example.com/hook")
        incoming = http.post(
            "/-/webhooks/api/incoming",
            json={"slug": slug, "scheme": "standard"},
            headers=cookie_header(actors.root),
        ).json()["incoming"]
        scan = http.post("/-/bookmarks/api/scan", headers=cookie_header(actors.alice))
    return {
        "thread": str(thread["id"]),
        "comment": str(thread["comments"][0]["id"]),
        "bookmark": str(bookmark["id"]),
        "link": link["code"],
        "endpoint": endpoint["id"],
        "incoming": incoming["id"],
        "slug": slug,
        "job": scan.json()["job_id"],
    }


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("fuzz")
    server = serve_all(tmp_path, make_data_db(tmp_path / "data.db"))
    server.actors = Actors(server)
    server.ids = seed_resources(server, "fuzz-in")
    server.http = client(server)
    yield server
    server.http.close()
    server.stop()


def path_params(server, kind):
    odd = st.sampled_from(ODD_IDS + ODD_TEXT[4:]).map(
        lambda value: urllib.parse.quote(value, safe="")
    )
    return st.one_of(st.just(server.ids[kind]), odd)


def send(server, method, path, actor, body=None, content_type=None, params=None):
    headers = cookie_header(getattr(server.actors, actor))
    if content_type:
        headers["content-type"] = content_type
    response = server.http.request(
        method, path, content=body if method != "GET" else None, params=params, headers=headers
    )
    assert response.status_code < 500, (
        f"{method} {path} as {actor}: {response.status_code} body={body!r:.100} "
        f"params={params!r:.100}: {response.text[:300]}"
    )
    return response


def check_server_is_clean(server):
    assert tracebacks(server) == ""
    assert integrity(server.internal_path) == "ok"


ACTORS = st.sampled_from(["anonymous", "alice", "root"])


# ---------------------------------------------------------------- core

CORE_GET = [
    ("/-/internal.json", []),
    ("/-/internal/audit.json", ["_size", "before", "plugin", "action", "actor", "since"]),
    ("/-/internal/settings.json", []),
]


@given(data=st.data(), actor=ACTORS)
def test_fuzz_core_reads(fuzz_server, data, actor):
    path, names = data.draw(st.sampled_from(CORE_GET))
    send(fuzz_server, "GET", path, actor, params=data.draw(query_args(names or ["x"])))


SETTING_FIELDS = ["plugin", "key", "value", "reset"]
SETTING_NAMES = st.sampled_from(
    [
        "datasette-internal-db",
        "datasette-internal-comments",
        "datasette-internal-webhooks",
        "audit_retention_days",
        "enabled",
        "paused",
        "log_retention_days",
    ]
)


@given(data=st.data(), actor=ACTORS)
def test_fuzz_core_settings_and_jobs(fuzz_server, data, actor):
    if data.draw(st.booleans()):
        body, content_type = data.draw(
            st.one_of(
                bodies(SETTING_FIELDS),
                st.fixed_dictionaries(
                    {"plugin": SETTING_NAMES, "key": SETTING_NAMES, "value": json_values}
                ).map(lambda d: (json.dumps(d).encode(), "application/json")),
            )
        )
        send(fuzz_server, "POST", "/-/internal/settings", actor, body, content_type)
    else:
        job = data.draw(path_params(fuzz_server, "job"))
        method, suffix = data.draw(
            st.sampled_from([("GET", ".json"), ("POST", "/cancel"), ("POST", ".json")])
        )
        send(fuzz_server, method, f"/-/internal/jobs/{job}{suffix}", actor, b"")


def test_fuzz_core_left_the_server_clean(fuzz_server):
    check_server_is_clean(fuzz_server)


# ---------------------------------------------------------------- comments

THREAD_FIELDS = ["database", "table", "column", "row", "body", "next"]
COMMENT_WRITES = [
    ("/-/comments/api/threads", None, THREAD_FIELDS),
    ("/-/comments/api/threads/{}/comments", "thread", ["body", "next"]),
    ("/-/comments/api/threads/{}/resolve", "thread", ["next"]),
    ("/-/comments/api/threads/{}/reopen", "thread", ["next"]),
    ("/-/comments/api/comments/{}/edit", "comment", ["body", "next"]),
    ("/-/comments/api/comments/{}/delete", "comment", ["next"]),
    ("/-/comments/api/comments/{}/reactions", "comment", ["emoji", "next"]),
    ("/-/comments/api/inbox/read", None, ["all", "ids", "next"]),
]
COMMENT_READS = [
    ("/-/comments/api/threads", None, ["database", "table", "column", "row"]),
    ("/-/comments/api/threads/{}", "thread", ["x"]),
    ("/-/comments/api/comments/{}/revisions", "comment", ["x"]),
    ("/-/comments/api/badges", None, ["database", "table", "row"]),
    (
        "/-/comments/api/activity",
        None,
        ["limit", "before", "resolved", "mentions", "q", "author", "database", "table"],
    ),
    ("/-/comments/api/inbox", None, ["unread", "limit", "before"]),
    ("/-/comments/api/actors", None, ["q"]),
]


def fuzz_routes(server, data, actor, writes, reads):
    if data.draw(st.booleans()):
        template, kind, fields = data.draw(st.sampled_from(writes))
        path = template.format(data.draw(path_params(server, kind))) if kind else template
        body, content_type = data.draw(bodies(fields))
        method = data.draw(st.sampled_from(["POST", "POST", "POST", "PUT", "DELETE"]))
        send(server, method, path, actor, body, content_type)
    else:
        template, kind, names = data.draw(st.sampled_from(reads))
        path = template.format(data.draw(path_params(server, kind))) if kind else template
        send(server, "GET", path, actor, params=data.draw(query_args(names)))


@given(data=st.data(), actor=ACTORS)
def test_fuzz_comments_api(fuzz_server, data, actor):
    fuzz_routes(fuzz_server, data, actor, COMMENT_WRITES, COMMENT_READS)


def test_fuzz_comments_left_the_server_clean(fuzz_server):
    check_server_is_clean(fuzz_server)


# ---------------------------------------------------------------- bookmarks and short links

BOOKMARK_FIELDS = ["url", "title", "note", "tags", "shared"]
LINK_FIELDS = ["target", "title", "code", "expires_at", "max_visits", "disabled"]
BOOKMARK_WRITES = [
    ("/-/bookmarks/api/bookmarks", None, BOOKMARK_FIELDS),
    ("/-/bookmarks/api/bookmarks/{}", "bookmark", BOOKMARK_FIELDS),
    ("/-/bookmarks/api/import", None, ["bookmarks"]),
    ("/-/bookmarks/api/scan", None, ["x"]),
    ("/-/l/api/links", None, LINK_FIELDS),
    ("/-/l/api/links/{}", "link", LINK_FIELDS),
    ("/-/l/api/links/{}/delete", "link", ["x"]),
]
BOOKMARK_READS = [
    ("/-/bookmarks/api/bookmarks", None, ["scope", "tag", "q", "before"]),
    ("/-/bookmarks/api/bookmarks/{}", "bookmark", ["x"]),
    ("/-/bookmarks/api/export", None, ["x"]),
    ("/-/l/api/links", None, ["all", "before"]),
    ("/-/l/api/links/{}", "link", ["x"]),
    ("/-/l/{}", "link", ["x"]),
    ("/-/l/{}/qr.svg", "link", ["x"]),
]


@given(data=st.data(), actor=ACTORS)
def test_fuzz_bookmarks_api(fuzz_server, data, actor):
    fuzz_routes(fuzz_server, data, actor, BOOKMARK_WRITES, BOOKMARK_READS)


@given(
    actor=ACTORS,
    items=st.lists(
        st.dictionaries(st.sampled_from(BOOKMARK_FIELDS), json_values, max_size=5), max_size=5
    ),
)
def test_fuzz_bookmarks_import(fuzz_server, actor, items):
    body = json.dumps({"bookmarks": items}).encode()
    send(fuzz_server, "POST", "/-/bookmarks/api/import", actor, body, "application/json")


def test_fuzz_bookmarks_left_the_server_clean(fuzz_server):
    check_server_is_clean(fuzz_server)


# ---------------------------------------------------------------- webhooks

ENDPOINT_FIELDS = ["url", "description", "event_types", "database", "table", "active"]
WEBHOOK_WRITES = [
    ("/-/webhooks/api/endpoints", None, ENDPOINT_FIELDS),
    ("/-/webhooks/api/endpoints/{}", "endpoint", ENDPOINT_FIELDS),
    ("/-/webhooks/api/endpoints/{}/rotate-secret", "endpoint", ["x"]),
    ("/-/webhooks/api/endpoints/{}/test", "endpoint", ["x"]),
    ("/-/webhooks/api/endpoints/{}/redeliver-failed", "endpoint", ["since"]),
    ("/-/webhooks/api/redeliver-failed", None, ["since"]),
    ("/-/webhooks/api/deliveries/{}/redeliver", "thread", ["x"]),
    ("/-/webhooks/api/incoming", None, ["slug", "scheme", "description"]),
    ("/-/webhooks/api/incoming/{}", "incoming", ["slug", "scheme", "description"]),
    ("/-/webhooks/api/incoming/{}/rotate-secret", "incoming", ["x"]),
    ("/-/webhooks/in/{}", "slug", ["type", "data", "id"]),
]
WEBHOOK_READS = [
    ("/-/webhooks/api/event-types", None, ["x"]),
    ("/-/webhooks/api/endpoints", None, ["x"]),
    ("/-/webhooks/api/endpoints/{}", "endpoint", ["x"]),
    ("/-/webhooks/api/endpoints/{}/deliveries", "endpoint", ["status", "before"]),
    ("/-/webhooks/api/endpoints/{}/attempts", "endpoint", ["before"]),
    ("/-/webhooks/api/deliveries/{}", "thread", ["x"]),
    ("/-/webhooks/api/incoming", None, ["x"]),
    ("/-/webhooks/api/incoming/{}", "incoming", ["x"]),
    ("/-/webhooks/api/incoming/{}/received", "incoming", ["before"]),
]


@given(data=st.data(), actor=ACTORS)
def test_fuzz_webhooks_api(fuzz_server, data, actor):
    fuzz_routes(fuzz_server, data, actor, WEBHOOK_WRITES, WEBHOOK_READS)


@given(
    body=st.binary(max_size=2000) | json_values.map(json.dumps).map(str.encode),
    headers=st.dictionaries(
        st.sampled_from(
            [
                "webhook-id",
                "webhook-timestamp",
                "webhook-signature",
                "x-hub-signature-256",
                "x-github-delivery",
                "authorization",
                "content-type",
            ]
        ),
        st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=80),
    ),
)
def test_fuzz_webhooks_incoming_receiver(fuzz_server, body, headers):
    response = fuzz_server.http.post("/-/webhooks/in/fuzz-in", content=body, headers=headers)
    # Random headers never carry a valid signature: the receiver must refuse, never fail.
    assert 400 <= response.status_code < 500, (body, headers, response.text[:500])


def test_fuzz_webhooks_left_the_server_clean(fuzz_server):
    check_server_is_clean(fuzz_server)


# ---------------------------------------------------------------- deterministic sweeps
# Hypothesis samples; these try every odd path value and every wrong-typed field on every
# route, so a known class of bug cannot slip through a short run by chance.

# Deletes only in the sweeps: a hypothesis example deleting the seeded resources would leave the
# rest of a run probing 404s.
DELETES = [
    ("/-/webhooks/api/endpoints/{}/delete", "endpoint", ["x"]),
    ("/-/webhooks/api/incoming/{}/delete", "incoming", ["x"]),
]
ALL_WRITES = COMMENT_WRITES + BOOKMARK_WRITES + WEBHOOK_WRITES + DELETES
ALL_READS = COMMENT_READS + BOOKMARK_READS + WEBHOOK_READS
SWEEP_IDS = ["0", "9" * 25, "١", "1e3", "%2e%2e", "0" * 300, "\u202eevil", "../../etc/passwd", "\n"]
WRONG_VALUES = [None, True, 10**30, -1, 1e308, [], ["x"], {"a": 1}, "\ud800", "x" * 70_000]


def sweep_request(server, problems, method, path, actor, body):
    try:
        send(server, method, path, actor, body, "application/json")
    except AssertionError as error:
        problems.append(str(error).splitlines()[0][:300])


def test_fuzz_sweep_odd_path_parameters(fuzz_server):
    problems = []
    for template, kind, _ in ALL_WRITES + ALL_READS:
        if kind is None:
            continue
        for value in SWEEP_IDS:
            path = template.format(urllib.parse.quote(value, safe=""))
            for actor in ("anonymous", "alice", "root"):
                method = "GET" if (template, kind) in {(t, k) for t, k, _ in ALL_READS} else "POST"
                sweep_request(fuzz_server, problems, method, path, actor, b"{}")
    assert not problems, "\n".join(problems)


def owner_of(path):
    """The actor whose request gets past the permission check to the input validation."""
    return "root" if path.startswith(("/-/webhooks", "/-/internal")) else "alice"


def test_fuzz_sweep_wrong_types_in_every_field(fuzz_server):
    writes = ALL_WRITES + [
        ("/-/internal/settings", None, SETTING_FIELDS),
        ("/-/internal/jobs/{}/cancel", "job", ["x"]),
    ]
    # Fresh resources: the hypothesis runs before may have deleted or changed the seeded ones.
    ids = seed_resources(fuzz_server, "sweep-in")
    problems = []
    for template, kind, fields in writes:
        path = template.format(ids[kind]) if kind else template
        for field in fields:
            for value in WRONG_VALUES:
                body = json.dumps({field: value}).encode()
                sweep_request(fuzz_server, problems, "POST", path, owner_of(path), body)
    assert not problems, "\n".join(problems)


def test_fuzz_sweep_left_the_server_clean(fuzz_server):
    check_server_is_clean(fuzz_server)
