"""Hypothesis fuzzing of every JSON route and every query parameter of core and the three plugins.

One real ``datasette serve`` (core + every plugin, ``--root``) per module; each example is one
HTTP request from an anonymous, an ordinary (alice) or the root actor. Bodies and query strings
carry what an attacker would send (see ``fuzz_inputs.py``): JSON nested 100,000 deep, integers
past 64 bits, NaN and Infinity, NUL and other control characters, lone surrogates, other
scripts' digits and look-alike letters in identifiers, trailing newlines, and a wrong JSON type
in every field. Every response must be below 500; afterwards the server log holds no traceback
and the internal DB passes ``PRAGMA integrity_check``. After the properties, deterministic sweeps
send every odd value to every field and every query parameter of every route.
"""

import collections
import json
import urllib.parse

import fuzz_inputs
import pytest
from fuzz_inputs import (
    DEEP_BODIES,
    ODD_IDS,
    PAGING_PARAMS,
    SWEEP_IDS,
    bodies,
    json_values,
    query_strings,
)
from hypothesis import given, settings
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

# Requests sent per route pattern (method and template): printed at the end of the run.
SENT = collections.Counter()
# The long profile (`nox -s fuzz`) sweeps every odd value; the short one a value of each class.
FULL_SWEEPS = settings.default.max_examples >= 1000
PREFIX = "" if FULL_SWEEPS else "SHORT_"
FIELD_VALUES = getattr(fuzz_inputs, PREFIX + "FIELD_VALUES")
RAW_VALUES = getattr(fuzz_inputs, PREFIX + "RAW_VALUES")
QUERY_VALUES = getattr(fuzz_inputs, PREFIX + "QUERY_VALUES")
RAW_QUERY_VALUES = getattr(fuzz_inputs, PREFIX + "RAW_QUERY_VALUES")


def reset_runtime_settings(http, root):
    """Back to the configured values: an example may have disabled comments or paused webhooks."""
    listing = http.get("/-/internal/settings.json", headers=root).json()["settings"]
    for plugin, settings_of_plugin in listing.items():
        for key in settings_of_plugin:
            reset = {"plugin": plugin, "key": key, "reset": True}
            assert http.post("/-/internal/settings", json=reset, headers=root).status_code == 200


def seed_resources(server, slug):
    """One of each resource, so requests reach past "not found" into the real code."""
    actors = server.actors
    with client(server) as http:
        reset_runtime_settings(http, cookie_header(actors.root))
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
    try:
        # Whatever ran against it, however it was selected: no traceback, an intact internal DB.
        check_server_is_clean(server)
    finally:
        server.stop()


def path_params(server, kind):
    odd = st.sampled_from(ODD_IDS).map(lambda value: urllib.parse.quote(value, safe=""))
    return st.one_of(st.just(server.ids[kind]), odd)


def send(server, method, template, path, actor, body=None, content_type=None, query=""):
    """One request; ``query`` is an already encoded query string (sent as it is)."""
    headers = cookie_header(getattr(server.actors, actor))
    if content_type:
        headers["content-type"] = content_type
    url = path + ("?" + query if query else "")
    SENT[f"{method} {template}"] += 1
    response = server.http.request(
        method, url, content=body if method != "GET" else None, headers=headers
    )
    assert response.status_code < 500, (
        f"{method} {url[:200]} as {actor}: {response.status_code} body={body!r:.100}: "
        f"{response.text[:300]}"
    )
    return response


def check_server_is_clean(server):
    assert tracebacks(server) == ""
    assert integrity(server.internal_path) == "ok"


ACTORS = st.sampled_from(["anonymous", "alice", "root"])


def fuzz_routes(server, data, actor, writes, reads):
    if writes and data.draw(st.booleans()):
        template, kind, fields = data.draw(st.sampled_from(writes))
        path = template.format(data.draw(path_params(server, kind))) if kind else template
        body, content_type = data.draw(bodies(fields))
        method = data.draw(st.sampled_from(["POST", "POST", "POST", "PUT", "DELETE"]))
        send(server, method, template, path, actor, body, content_type)
    else:
        template, kind, names = data.draw(st.sampled_from(reads))
        path = template.format(data.draw(path_params(server, kind))) if kind else template
        send(server, "GET", template, path, actor, query=data.draw(query_strings(names)))


# ---------------------------------------------------------------- core

# Every list pages with _size and _next (PAGING_PARAMS, added to every read); the audit log
# also still takes before=<id>, for links made before _next.
AUDIT_PARAMS = ["before", "plugin", "action", "actor", "since"]
CORE_READS = [
    ("/-/internal.json", None, ["x"]),
    ("/-/internal", None, ["x"]),
    ("/-/internal/audit.json", None, AUDIT_PARAMS),
    ("/-/internal/audit", None, AUDIT_PARAMS),
    ("/-/internal/settings.json", None, ["x"]),
    ("/-/internal/settings", None, ["x"]),
    ("/-/internal/jobs.json", None, ["x"]),
    ("/-/internal/jobs", None, ["x"]),
    ("/-/internal/jobs/{}.json", "job", ["x"]),
    ("/-/internal/jobs/{}", "job", ["x"]),
]
SETTING_FIELDS = ["plugin", "key", "value", "reset"]
CORE_WRITES = [
    ("/-/internal/settings", None, SETTING_FIELDS),
    ("/-/internal/jobs/{}/cancel", "job", ["x"]),
]
SETTING_NAMES = st.sampled_from(
    [
        "datasette-internal-db",
        "datasette-internal-comments",
        "datasette-internal-webhooks",
        "audit_retention_days",
        "enabled",
        "paused",
        "log_retention_days",
        "disable_after_hours",
        "received_retention_days",
    ]
)


@given(data=st.data(), actor=ACTORS)
def test_fuzz_core_api(fuzz_server, data, actor):
    fuzz_routes(fuzz_server, data, actor, CORE_WRITES, CORE_READS)


@given(
    setting=st.fixed_dictionaries(
        {"plugin": SETTING_NAMES, "key": SETTING_NAMES, "value": json_values}
    ),
    reset=st.sampled_from([None, True, False, "yes", [], 1]),
)
def test_fuzz_core_settings_values(fuzz_server, setting, reset):
    if reset is not None:
        setting["reset"] = reset
    body = json.dumps(setting).encode()
    path = "/-/internal/settings"
    send(fuzz_server, "POST", path, path, "root", body, "application/json")


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
    ("/-/comments/api/email/preference", None, ["preference", "next"]),
    ("/-/comments/api/email/test", None, ["to", "next"]),
    ("/-/comments/unsubscribe", None, ["List-Unsubscribe"]),
]
ACTIVITY_PARAMS = ["resolved", "mentions", "q", "author", "database", "table"]
TARGET_PARAMS = ["database", "table", "column", "row"]
COMMENT_READS = [
    ("/-/comments/api/threads", None, TARGET_PARAMS),
    ("/-/comments/api/threads/{}", "thread", ["x"]),
    ("/-/comments/api/comments/{}/revisions", "comment", ["x"]),
    ("/-/comments/api/badges", None, ["database", "table", "row"]),
    ("/-/comments/api/activity", None, ACTIVITY_PARAMS),
    ("/-/comments/api/inbox", None, ["unread"]),
    ("/-/comments/api/actors", None, ["q"]),
    ("/-/comments", None, ACTIVITY_PARAMS),
    ("/-/comments/inbox", None, ["unread"]),
    ("/-/comments/target", None, TARGET_PARAMS + ["fragment", "next"]),
    ("/-/comments/threads/{}", "thread", ["x"]),
    ("/-/comments/api/email/preference", None, ["x"]),
    ("/-/comments/api/email/outbox", None, ["status"]),
    ("/-/comments/email", None, ["x"]),
    ("/-/comments/email/outbox", None, ["status"]),
    ("/-/comments/unsubscribe", None, ["token"]),
]


@given(data=st.data(), actor=ACTORS)
def test_fuzz_comments_api(fuzz_server, data, actor):
    fuzz_routes(fuzz_server, data, actor, COMMENT_WRITES, COMMENT_READS)


# ---------------------------------------------------------------- bookmarks and short links

BOOKMARK_FIELDS = ["url", "title", "note", "tags", "shared"]
LINK_FIELDS = ["target", "title", "code", "expires_at", "max_visits", "disabled"]
BOOKMARK_WRITES = [
    ("/-/bookmarks/api/bookmarks", None, BOOKMARK_FIELDS),
    ("/-/bookmarks/api/bookmarks/{}", "bookmark", BOOKMARK_FIELDS),
    ("/-/bookmarks/api/import", None, ["bookmarks"]),
    ("/-/bookmarks/api/scan", None, ["x"]),
    ("/-/bookmarks/new", None, BOOKMARK_FIELDS),
    ("/-/l/api/links", None, LINK_FIELDS),
    ("/-/l/api/links/{}", "link", LINK_FIELDS),
    ("/-/links", None, LINK_FIELDS),
    ("/-/l/api/links/{}/delete", "link", ["x"]),
]
LISTING_PARAMS = ["scope", "tag", "q"]
BOOKMARK_READS = [
    ("/-/bookmarks/api/bookmarks", None, LISTING_PARAMS),
    ("/-/bookmarks/api/bookmarks/{}", "bookmark", ["x"]),
    ("/-/bookmarks/api/export", None, ["x"]),
    ("/-/bookmarks", None, LISTING_PARAMS + ["job"]),
    ("/-/bookmarks/new", None, ["url", "title"]),
    ("/-/bookmarks/export.html", None, ["x"]),
    ("/-/l/api/links", None, ["all"]),
    ("/-/l/api/links/{}", "link", ["x"]),
    ("/-/links", None, ["all", "target"]),
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
    template = "/-/bookmarks/api/import"
    send(fuzz_server, "POST", template, template, actor, body, "application/json")


# ---------------------------------------------------------------- webhooks

ENDPOINT_FIELDS = ["url", "description", "event_types", "database", "table", "active"]
INCOMING_FIELDS = ["slug", "scheme", "description"]
WEBHOOK_WRITES = [
    ("/-/webhooks/api/endpoints", None, ENDPOINT_FIELDS),
    ("/-/webhooks/api/endpoints/{}", "endpoint", ENDPOINT_FIELDS),
    ("/-/webhooks/api/endpoints/{}/rotate-secret", "endpoint", ["x"]),
    ("/-/webhooks/api/endpoints/{}/test", "endpoint", ["x"]),
    ("/-/webhooks/api/endpoints/{}/redeliver-failed", "endpoint", ["since"]),
    ("/-/webhooks/api/redeliver-failed", None, ["since"]),
    ("/-/webhooks/api/deliveries/{}/redeliver", "thread", ["x"]),
    ("/-/webhooks/api/incoming", None, INCOMING_FIELDS),
    ("/-/webhooks/api/incoming/{}", "incoming", INCOMING_FIELDS),
    ("/-/webhooks/api/incoming/{}/rotate-secret", "incoming", ["x"]),
    ("/-/webhooks/in/{}", "slug", ["type", "data", "id"]),
]
WEBHOOK_READS = [
    ("/-/webhooks/api/event-types", None, ["x"]),
    ("/-/webhooks/api/endpoints", None, ["x"]),
    ("/-/webhooks/api/endpoints/{}", "endpoint", ["x"]),
    ("/-/webhooks/api/endpoints/{}/deliveries", "endpoint", ["status"]),
    ("/-/webhooks/api/endpoints/{}/attempts", "endpoint", ["x"]),
    ("/-/webhooks/api/deliveries/{}", "thread", ["x"]),
    ("/-/webhooks/api/incoming", None, ["x"]),
    ("/-/webhooks/api/incoming/{}", "incoming", ["x"]),
    ("/-/webhooks/api/incoming/{}/received", "incoming", ["x"]),
    ("/-/webhooks", None, ["x"]),
    ("/-/webhooks/endpoints/{}", "endpoint", ["job"]),
    ("/-/webhooks/incoming/{}", "incoming", ["x"]),
]


@given(data=st.data(), actor=ACTORS)
def test_fuzz_webhooks_api(fuzz_server, data, actor):
    fuzz_routes(fuzz_server, data, actor, WEBHOOK_WRITES, WEBHOOK_READS)


@given(
    body=st.binary(max_size=2000)
    | json_values.map(json.dumps).map(str.encode)
    | st.sampled_from(DEEP_BODIES),
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
    SENT["POST /-/webhooks/in/{}"] += 1
    response = fuzz_server.http.post("/-/webhooks/in/fuzz-in", content=body, headers=headers)
    # Random headers never carry a valid signature: the receiver must refuse, never fail.
    assert 400 <= response.status_code < 500, (body[:200], headers, response.text[:500])


# ---------------------------------------------------------------- deterministic sweeps
# Hypothesis samples; these try every odd value in every field, every query parameter and every
# path parameter of every route, so a known class of bug cannot slip through a run by chance.

# Deletes only in the sweeps: a hypothesis example deleting the seeded resources would leave the
# rest of a run probing 404s.
DELETES = [
    ("/-/webhooks/api/endpoints/{}/delete", "endpoint", ["x"]),
    ("/-/webhooks/api/incoming/{}/delete", "incoming", ["x"]),
]
ALL_WRITES = CORE_WRITES + COMMENT_WRITES + BOOKMARK_WRITES + WEBHOOK_WRITES + DELETES
ALL_READS = CORE_READS + COMMENT_READS + BOOKMARK_READS + WEBHOOK_READS


def sweep_request(server, problems, method, template, path, actor, body=None, query=""):
    try:
        send(server, method, template, path, actor, body, "application/json", query)
    except AssertionError as error:
        problems.append(str(error).splitlines()[0][:300])


def owner_of(path):
    """The actor whose request gets past the permission check to the input validation."""
    return "root" if path.startswith(("/-/webhooks", "/-/internal")) else "alice"


def test_fuzz_sweep_odd_path_parameters(fuzz_server):
    problems = []
    reads = {(template, kind) for template, kind, _ in ALL_READS}
    for template, kind, _ in ALL_WRITES + ALL_READS:
        if kind is None:
            continue
        method = "GET" if (template, kind) in reads else "POST"
        for value in SWEEP_IDS:
            path = template.format(urllib.parse.quote(value, safe=""))
            for actor in ("anonymous", "alice", "root"):
                sweep_request(fuzz_server, problems, method, template, path, actor, b"{}")
    assert not problems, "\n".join(problems)


def field_bodies(field):
    """A body per odd value of ``field``: every wrong JSON type, and JSON text Python's
    ``json.dumps`` would not write (NaN, 1e400, 100,000-deep arrays, lone surrogates...)."""
    for value in FIELD_VALUES:
        yield json.dumps({field: value}).encode()
    for raw in RAW_VALUES:
        yield f"{{{json.dumps(field)}: {raw}}}".encode()


def test_fuzz_sweep_odd_values_in_every_field(fuzz_server):
    # Fresh resources: the hypothesis runs before may have deleted or changed the seeded ones.
    ids = seed_resources(fuzz_server, "sweep-in")
    problems = []
    for template, kind, fields in ALL_WRITES:
        path = template.format(ids[kind]) if kind else template
        actor = owner_of(path)
        for body in DEEP_BODIES:
            sweep_request(fuzz_server, problems, "POST", template, path, actor, body)
        for field in fields:
            for body in field_bodies(field):
                sweep_request(fuzz_server, problems, "POST", template, path, actor, body)
    assert not problems, "\n".join(problems)


def test_fuzz_sweep_odd_values_in_every_query_parameter(fuzz_server):
    ids = seed_resources(fuzz_server, "query-in")
    problems = []
    values = [urllib.parse.quote(value, safe="") for value in QUERY_VALUES] + RAW_QUERY_VALUES
    for template, kind, names in ALL_READS:
        path = template.format(ids[kind]) if kind else template
        for name in names + PAGING_PARAMS:
            for value in values:
                query = f"{name}={value}"
                sweep_request(
                    fuzz_server, problems, "GET", template, path, owner_of(path), query=query
                )
    assert not problems, "\n".join(problems)


def summary():
    """Requests per route pattern, for the run's report (reliability/conftest.py prints it)."""
    routes = {key.split(" ", 1)[1] for key in SENT}
    total = sum(SENT.values())
    lines = [f"fuzz: {total} requests to {len(routes)} routes ({len(SENT)} method and route pairs)"]
    lines += [f"  {count:6d}  {key}" for key, count in sorted(SENT.items())]
    return "\n".join(lines)
