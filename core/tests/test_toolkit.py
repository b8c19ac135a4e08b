"""core's toolkit for plugin routes and pages: route(), pagination, fetch_row, RecentAnswers,
render_markdown, the Plugin handle and the page templates, through a real in-process plugin."""

import asyncio
import inspect
import sqlite3

import pytest
from conftest import internal_db_full, internal_db_locked
from datasette import hookimpl
from datasette.database import QueryInterrupted
from datasette.utils.asgi import NotFound, Response
from datasette_internal_db import Cache, Conflict, InvalidInput
from datasette_internal_db.answers import RecentAnswers
from datasette_internal_db.markdown import render_markdown
from datasette_internal_db.plugin import Plugin
from datasette_internal_db.routing import (
    next_token,
    page_after,
    page_links,
    page_size,
    read_page,
    route,
)
from datasette_internal_db.rows import fetch_row, read_row
from datasette_internal_db.testing import close, make_datasette
from datasette_internal_db.web import read_fields, read_json_object

ITEMS = [{"id": n, "name": f"item {n}"} for n in range(1, 8)]


@route(methods=("GET", "POST"), action="toolkit-use")
async def items_api(datasette, request):
    if request.method == "POST":
        data = await read_json_object(request)
        if not isinstance(data.get("name"), str):
            raise InvalidInput("'name' must be a string")
        return Response.json({"ok": True, "name": data["name"]}, status=201)
    size = page_size(request, default=3, maximum=5)
    after = page_after(request, 1)
    start = int(after[0]) if after else 0
    rows = [item for item in ITEMS if item["id"] > start][:size]
    more = rows and rows[-1]["id"] < ITEMS[-1]["id"]
    token = next_token(rows[-1]["id"]) if more else None
    return Response.json({"ok": True, "items": rows, **page_links(request, token)})


@route(methods=("POST",))
async def fields_api(datasette, request):
    fields = await read_fields(request, max_form_bytes=400)
    if fields.get("state") == "deleted":
        raise Conflict("It was deleted")
    if fields.get("state") == "slow":
        raise QueryInterrupted(None, "select 1", [])
    if not fields.get("name"):
        raise InvalidInput("'name' is required")
    return Response.json({"ok": True, "fields": fields})


@route()
async def missing_page(datasette, request):
    raise NotFound("No such greeting")


@route()
async def toolkit_page(datasette, request):
    return Response.html(
        await datasette.render_template(
            "toolkit_page.html",
            {
                "breadcrumbs": [("Toolkit", "/-/toolkit"), ("A page", None)],
                "when": "2026-11-30T09:15:00.000+00:00",
                "user_title": '"x autofocus onfocus=window.__xss=1 <b>',
            },
            request=request,
        )
    )


plain_cache = Cache("toolkit-plain")


async def plain_write(datasette, request):
    # Not wrapped by route(): a storage error here reaches Datasette's handle_exception hooks.
    await plain_cache.set(datasette, "big", "x" * 30_000)
    return Response.json({"ok": True})


class ToolkitPlugin:
    __name__ = "toolkit-plugin"

    @hookimpl
    def register_routes(self, datasette):
        return [
            (r"^/-/toolkit/api/items$", items_api),
            (r"^/-/toolkit/api/fields$", fields_api),
            (r"^/-/toolkit/missing$", missing_page),
            (r"^/-/toolkit/page$", toolkit_page),
            (r"^/-/toolkit/plain-write$", plain_write),
        ]

    @hookimpl
    def register_actions(self, datasette):
        from datasette.permissions import Action

        return [Action(name="toolkit-use", description="Use the toolkit test routes")]


PAGE_TEMPLATE = """{% extends "datasette_internal_base.html" %}
{% block title %}A page{% endblock %}
{% block content %}
<h1>A page</h1>
<p>Written {{ ui.time(when) }} {{ ui.icon("comment", label="Comments") }}</p>
{{ ui.button("Save", icon_name="resolve", primary=True, type="submit") }}
{{ ui.button("Delete", attrs={"data-action": "delete", "aria-label": "Delete " ~ user_title}) }}
{% call ui.dialog("edit-thing", "Edit the thing") %}<div class="modal-body">
<input id="edit-thing-title" name="title"></div>{% endcall %}
{{ ui.icon_button("Edit", "edit", attrs={"data-code": user_title, "data-none": None}) }}
{% endblock %}
"""


@pytest.fixture
async def ds(tmp_path):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "toolkit_page.html").write_text(PAGE_TEMPLATE)
    plugin = ToolkitPlugin()
    from datasette.plugins import pm

    pm.register(plugin, name="toolkit-plugin")
    try:
        datasette = await make_datasette(
            tmp_path,
            template_dir=str(templates),
            config={"permissions": {"toolkit-use": {"id": "alice"}}},
        )
        yield datasette
    finally:
        pm.unregister(name="toolkit-plugin")
    close(datasette)


async def test_route_checks_the_action_and_answers_json_or_html(ds):
    refused = await ds.client.get("/-/toolkit/api/items", actor={"id": "bob"})
    assert refused.status_code == 403
    assert refused.json() == {"ok": False, "errors": ["Permission denied: toolkit-use is required"]}
    ok = await ds.client.get("/-/toolkit/api/items", actor={"id": "alice"})
    assert ok.status_code == 200 and [i["id"] for i in ok.json()["items"]] == [1, 2, 3]

    page = await ds.client.get("/-/toolkit/missing")
    assert page.status_code == 404
    assert "text/html" in page.headers["content-type"]
    assert "No such greeting" in page.text and '<p class="crumbs">' in page.text
    as_json = await ds.client.get("/-/toolkit/missing", headers={"Accept": "application/json"})
    assert as_json.json() == {"ok": False, "errors": ["No such greeting"]}


async def test_a_route_view_carries_its_signature(ds, monkeypatch):
    """Datasette asks ``inspect.signature(view)`` on every request to pick the view's arguments;
    a ``route()`` view carries its own, so a request builds none of this module's."""
    built = []
    build = inspect._signature_from_function

    def counting(cls, func, *args, **kwargs):
        built.append(func.__module__)
        return build(cls, func, *args, **kwargs)

    monkeypatch.setattr(inspect, "_signature_from_function", counting)
    response = await ds.client.get("/-/toolkit/api/items", actor={"id": "alice"})
    assert response.status_code == 200
    assert __name__ not in built
    assert inspect.signature(items_api) == inspect.signature(lambda datasette, request: None)


async def test_route_answers_405_and_400(ds):
    wrong = await ds.client.delete("/-/toolkit/api/items", actor={"id": "alice"})
    assert wrong.status_code == 405 and wrong.headers["allow"] == "GET, POST"
    bad = await ds.client.post("/-/toolkit/api/items", json={"name": []}, actor={"id": "alice"})
    assert bad.status_code == 400 and bad.json()["errors"] == ["'name' must be a string"]
    deep = await ds.client.post(
        "/-/toolkit/api/items", content=b"[" * 5000 + b"]" * 5000, actor={"id": "alice"}
    )
    assert deep.status_code == 400
    created = await ds.client.post(
        "/-/toolkit/api/items", json={"name": "x"}, actor={"id": "alice"}
    )
    assert created.status_code == 201


async def test_pagination_follows_next_url_to_the_end(ds):
    seen, url = [], "/-/toolkit/api/items?_size=2&extra=kept"
    while url:
        answer = (await ds.client.get(url, actor={"id": "alice"})).json()
        seen.extend(item["id"] for item in answer["items"])
        assert answer["next_url"] is None or "extra=kept" in answer["next_url"]
        url = answer["next_url"]
    assert seen == [1, 2, 3, 4, 5, 6, 7]
    for bad in ("_size=0", "_size=6", "_size=99999999999999999999", "_next=1,2"):
        response = await ds.client.get(f"/-/toolkit/api/items?{bad}", actor={"id": "alice"})
        assert response.status_code == 400, bad


async def test_base_template_breadcrumbs_times_icons_and_dialog(ds):
    html = (await ds.client.get("/-/toolkit/page")).text
    assert '<a href="/-/toolkit">Toolkit</a> / <span aria-current="page">A page</span>' in html
    assert '<time class="di-time" datetime="2026-11-30T09:15:00.000+00:00"' in html
    assert "2026-11-30 09:15 UTC" in html
    assert 'role="img" aria-label="Comments"' in html
    assert '<dialog id="edit-thing" class="datasette-modal di-dialog"' in html
    # The dialog's title has an id of its own: a field named "title" may take "<id>-title".
    assert 'aria-labelledby="edit-thing-heading"' in html and html.count('id="edit-thing-') == 2
    assert "datasette-internal.css" in html and "datasette-internal.js" in html
    css = await ds.client.get("/-/static-plugins/datasette-internal-db/datasette-internal.css")
    assert css.status_code == 200


async def test_fetch_row_by_primary_key_or_rowid(tmp_path):
    path = tmp_path / "data.db"
    conn = sqlite3.connect(path)
    conn.execute("create table pets (kind text, name text, primary key (kind, name))")
    conn.execute("create table notes (body text)")
    conn.execute("insert into pets values ('cat', 'Tom'), ('dog', 'Rex')")
    conn.execute("insert into notes values ('first')")
    conn.commit()
    conn.close()
    ds = await make_datasette(tmp_path, files=[path])
    try:
        db = ds.get_database("data")
        assert await fetch_row(db, "pets", ["dog", "Rex"]) == (
            {"kind": "dog", "name": "Rex"},
            ["kind", "name"],
        )
        assert await fetch_row(db, "pets", ["dog"]) == (None, ["kind", "name"])
        assert await fetch_row(db, "notes", [1]) == ({"rowid": 1, "body": "first"}, ["rowid"])
        assert await fetch_row(db, "nope", [1]) == (None, [])
    finally:
        close(ds)


def test_read_row_keeps_primary_keys_until_the_schema_changes(tmp_path):
    conn = sqlite3.connect(tmp_path / "data.db")
    conn.row_factory = sqlite3.Row
    conn.execute("create table pets (kind text, name text, primary key (kind, name))")
    conn.execute("insert into pets values ('dog', 'Rex')")
    conn.commit()
    assert read_row(conn, "pets", ["dog", "Rex"])[1] == ["kind", "name"]
    statements = []
    conn.set_trace_callback(statements.append)
    assert read_row(conn, "pets", ["dog", "Rex"]) == (
        {"kind": "dog", "name": "Rex"},
        ["kind", "name"],
    )
    assert len(statements) == 2, statements  # the schema version and the row itself
    # Another connection changes the schema: the next read sees the new key.
    other = sqlite3.connect(tmp_path / "data.db")
    other.execute("drop table pets")
    other.execute("create table pets (id integer primary key, name text)")
    other.execute("insert into pets values (7, 'Tom')")
    other.commit()
    assert read_row(conn, "pets", [7]) == ({"id": 7, "name": "Tom"}, ["id"])
    other.execute("drop table pets")
    other.commit()
    assert read_row(conn, "pets", [7]) == (None, [])


async def test_recent_answers_are_kept_for_their_lifetime_only(ds, frozen_time):
    calls = []
    real_allowed = ds.allowed

    async def counting(**kwargs):
        calls.append(kwargs["action"])
        return await real_allowed(**kwargs)

    ds.allowed = counting
    answers = RecentAnswers(seconds=1.0)
    assert await answers.allowed(ds, "toolkit-use", {"id": "alice"}) is True
    assert await answers.allowed(ds, "toolkit-use", {"id": "alice"}) is True
    assert await answers.allowed(ds, "toolkit-use", {"id": "bob"}) is False
    assert len(calls) == 2
    frozen_time.advance(1.0)
    await answers.allowed(ds, "toolkit-use", {"id": "alice"})
    assert len(calls) == 3


async def test_recent_answers_missing_together_share_one_question(ds):
    calls = []
    real_allowed = ds.allowed

    async def slow_counting(**kwargs):
        calls.append(kwargs["action"])
        await asyncio.sleep(0.01)
        return await real_allowed(**kwargs)

    ds.allowed = slow_counting
    answers = RecentAnswers(seconds=1.0)
    first = asyncio.ensure_future(answers.allowed(ds, "toolkit-use", {"id": "alice"}))
    waiting = [answers.allowed(ds, "toolkit-use", {"id": "alice"}) for _ in range(7)]
    await asyncio.sleep(0)
    first.cancel()  # one caller giving up does not take the others' answer with it
    assert await asyncio.gather(*waiting) == [True] * 7
    assert calls == ["toolkit-use"]


async def test_recent_answers_near_their_end_are_asked_again_in_the_background(ds, frozen_time):
    calls = []
    real_allowed = ds.allowed
    granted = {"alice": True}

    async def changing(**kwargs):
        calls.append(kwargs["action"])
        return granted["alice"] and await real_allowed(**kwargs)

    ds.allowed = changing
    answers = RecentAnswers(seconds=1.0)
    alice = {"id": "alice"}
    assert await answers.allowed(ds, "toolkit-use", alice) is True
    frozen_time.advance(0.5)
    assert await answers.allowed(ds, "toolkit-use", alice) is True
    assert len(calls) == 1  # mid-life: kept, nothing asked
    granted["alice"] = False  # revoked
    frozen_time.advance(0.4)
    # In its last fifth: the kept answer now, while the question runs in the background.
    assert await answers.allowed(ds, "toolkit-use", alice) is True
    assert await answers.allowed(ds, "toolkit-use", alice) is True
    await asyncio.sleep(0.01)
    assert len(calls) == 2
    assert await answers.allowed(ds, "toolkit-use", alice) is False  # the background answer
    frozen_time.advance(0.5)  # 1.4 s after the first answer, 0.5 s after the second
    assert await answers.allowed(ds, "toolkit-use", alice) is False
    assert len(calls) == 2


async def test_recent_answers_for_several_actions_are_one_question(ds, frozen_time):
    calls = []
    real_allowed_many = ds.allowed_many

    async def counting(**kwargs):
        calls.append(kwargs["actions"])
        return await real_allowed_many(**kwargs)

    ds.allowed_many = counting
    answers = RecentAnswers(seconds=1.0)
    actions = ["toolkit-use", "view-instance"]
    first = await answers.allowed_many(ds, actions, {"id": "alice"})
    assert first == {"toolkit-use": True, "view-instance": True}
    first["toolkit-use"] = False  # a caller's copy: the kept answer does not change
    assert await answers.allowed_many(ds, actions, {"id": "alice"}) == {
        "toolkit-use": True,
        "view-instance": True,
    }
    assert (await answers.allowed_many(ds, actions, {"id": "bob"}))["toolkit-use"] is False
    assert calls == [actions, actions]
    frozen_time.advance(1.0)
    await answers.allowed_many(ds, actions, {"id": "alice"})
    assert len(calls) == 3


async def test_recent_answers_are_asked_outside_the_callers_permission_context(ds):
    from datasette.permissions import _skip_permission_checks

    answers = RecentAnswers(seconds=1.0)
    token = _skip_permission_checks.set(True)  # as datasette.client(skip_permission_checks=True)
    try:
        assert await ds.allowed(action="toolkit-use", actor={"id": "bob"}) is True
        assert await answers.allowed(ds, "toolkit-use", {"id": "bob"}) is False
    finally:
        _skip_permission_checks.reset(token)
    assert await answers.allowed(ds, "toolkit-use", {"id": "bob"}) is False


def test_markdown_policy_drops_images_and_marks_links():
    html = render_markdown(
        '![x](http://example.invalid/x.png) <img src="http://example.invalid/y.png">'
        " [site](https://example.org) <script>alert(1)</script>"
    )
    assert "<img" not in html and "x.png" not in html  # the raw tag is shown as text
    assert '<a href="https://example.org" rel="nofollow noopener">site</a>' in html
    assert "<script>" not in html
    assert render_markdown(None) == ""


def test_markdown_links_are_relative_http_https_or_mailto():
    kept = ["https://example.org/a", "http://example.org/b", "mailto:a@example.org", "/data/t"]
    dropped = ["ftp://example.org/c", "tel:+15550100", "ssh://example.org", "webcal://e.org/d"]
    html = render_markdown(
        " ".join(f"[link]({url})" for url in kept + dropped) + " <ftp://e.org/f>"
    )
    for url in kept:
        assert f'<a href="{url}" rel="nofollow noopener">link</a>' in html
    for url in [*dropped, "ftp://e.org/f"]:
        assert f'href="{url}' not in html
    assert html.count("<a ") == len(kept) + len(dropped) + 1  # the text stays, without a target


def test_plugin_handle_names_its_tables_and_migration_set():
    plugin = Plugin("datasette-internal-toolkit-test")
    assert plugin.table("items") == "datasette_internal_toolkit_test_items"
    assert plugin.migrations.name == "datasette-internal-toolkit-test"
    assert plugin.audit.plugin == plugin.jobs.plugin == plugin.secrets.plugin == plugin.name


async def test_button_attrs_are_escaped_whatever_the_text(ds):
    html = (await ds.client.get("/-/toolkit/page")).text
    escaped = "&#34;x autofocus onfocus=window.__xss=1 &lt;b&gt;"
    assert f'data-action="delete" aria-label="Delete {escaped}"' in html
    assert f'data-code="{escaped}"' in html and "data-none" not in html
    assert "autofocus onfocus" not in html.replace(escaped, "")


async def test_home_crumb_only_for_actors_who_may_view_the_instance(tmp_path):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "toolkit_page.html").write_text(PAGE_TEMPLATE)
    from datasette.plugins import pm

    pm.register(ToolkitPlugin(), name="toolkit-plugin")
    try:
        ds = await make_datasette(
            tmp_path,
            template_dir=str(templates),
            config={"allow": {"id": "alice"}},
        )
        crumbs = '<p class="crumbs"><a href="/-/toolkit">Toolkit</a> / <span aria-current'
        assert crumbs in (await ds.client.get("/-/toolkit/page")).text
        alice = (await ds.client.get("/-/toolkit/page", actor={"id": "alice"})).text
        assert '<p class="crumbs"><a href="/">home</a> / <a href="/-/toolkit">' in alice
    finally:
        pm.unregister(name="toolkit-plugin")
    close(ds)


FORM = {"content-type": "application/x-www-form-urlencoded"}


async def test_read_fields_takes_a_form_or_json_and_errors_suit_the_client(ds):
    alice = {"id": "alice"}
    path = "/-/toolkit/api/fields"
    as_json = await ds.client.post(path, json={"name": "x", "n": 1}, actor=alice)
    assert as_json.json() == {"ok": True, "fields": {"name": "x", "n": 1}}
    form = await ds.client.post(path, content=b"name=a&name=b&extra=", headers=FORM)
    assert form.json()["fields"] == {"name": "a", "extra": ""}
    multipart = await ds.client.post(path, files={"name": (None, "m")})
    assert multipart.json()["fields"] == {"name": "m"}
    curl = await ds.client.post(path, content=b'{"name": "c"}', headers=FORM)
    assert curl.json()["fields"] == {"name": "c"}
    long_form = await ds.client.post(path, content=b"name=" + b"x" * 400, headers=FORM)
    assert long_form.status_code == 413
    long_json = await ds.client.post(path, json={"name": "x" * 400})
    assert long_json.status_code == 200

    # A browser's form post under /api/ gets the error page; API clients get JSON.
    page = await ds.client.post(path, content=b"name=", headers=FORM)
    assert page.status_code == 400 and "text/html" in page.headers["content-type"]
    assert "&#39;name&#39; is required" in page.text
    for headers, body in (({}, b"{}"), ({}, b""), (FORM, b"{}")):
        error = await ds.client.post(path, content=body, headers=headers)
        assert error.status_code == 400
        assert error.json() == {"ok": False, "errors": ["'name' is required"]}
    wants = dict(FORM, accept="application/json")
    assert (await ds.client.post(path, content=b"n=1", headers=wants)).json()["ok"] is False


async def test_route_answers_409_for_a_conflict_and_503_for_a_slow_query(ds):
    path = "/-/toolkit/api/fields"
    deleted = await ds.client.post(path, json={"state": "deleted"})
    assert deleted.status_code == 409
    assert deleted.json() == {"ok": False, "errors": ["It was deleted"]}
    # JSON answers carry their length, so the body is not sent chunked.
    assert deleted.headers["content-length"] == str(len(deleted.content))
    assert deleted.headers["content-type"] == "application/json; charset=utf-8"
    slow = await ds.client.post(path, json={"state": "slow"})
    assert slow.status_code == 503 and "time limit" in slow.json()["errors"][0]
    page = await ds.client.post(path, content=b"state=deleted", headers=FORM)
    assert page.status_code == 409 and "It was deleted" in page.text


async def test_read_rows_and_read_row_turn_each_row(ds):
    from datasette_internal_db import read_row, read_rows

    sql = "select value from json_each('[3, 1, 2]') order by value"
    assert await read_rows(ds, sql) == [{"value": 1}, {"value": 2}, {"value": 3}]
    assert await read_rows(ds, sql, make=lambda row: row["value"] * 10) == [10, 20, 30]
    assert await read_row(ds, sql + " limit ?", [1]) == {"value": 1}
    assert await read_row(ds, "select 1 where 0", make=lambda row: 1 / 0) is None


async def test_read_page_asks_one_row_more_and_ends_without_next(ds):
    names = [{"name": name, "n": n} for n, name in enumerate("abcde")]
    asked = []

    async def fetch(after, limit):
        asked.append((after, limit))
        start = int(after[1]) + 1 if after else 0
        return names[start : start + limit]

    class Request:
        path = "/-/things"

        def __init__(self, query):
            self.query_string = query
            self.args = dict(part.split("=") for part in query.split("&") if part)

    rows, links = await read_page(Request("_size=2"), fetch, key=("name", "n"))
    assert [row["name"] for row in rows] == ["a", "b"] and asked == [(None, 3)]
    assert links == {"next": "b,1", "next_url": "/-/things?_size=2&_next=b%2C1"}
    rows, links = await read_page(Request("_size=3&_next=b,1"), fetch, key=("name", "n"))
    assert [row["name"] for row in rows] == ["c", "d", "e"] and asked[-1] == (["b", "1"], 4)
    assert links == {"next": None, "next_url": None}


def test_where_clause_leaves_out_filters_not_asked_for():
    from datasette_internal_db import where_clause

    assert where_clause(("a = :a", {"a": None})) == ("", {})
    assert where_clause(
        ("a = :a", {"a": 0}),
        ("b = :b", {"b": None}),
        ("(c, d) < (:c, :d)", {"c": "x", "d": ""}),
        ("(e, f) < (:e, :f)", {"e": "y", "f": None}),
    ) == ("where a = :a and (c, d) < (:c, :d)", {"a": 0, "c": "x", "d": ""})


async def test_storage_failures_outside_route_get_507_and_503_from_the_hook(ds):
    # README: "Core also answers for storage failures on every route (its handle_exception
    # hook)": a full file gives 507, a locked one 503 with Retry-After: 1, both as JSON errors.
    async with internal_db_full(ds):
        full = await ds.client.post("/-/toolkit/plain-write")
    assert full.status_code == 507
    assert full.json()["ok"] is False and "full" in full.json()["errors"][0]
    async with internal_db_locked(ds):
        locked = await ds.client.post("/-/toolkit/plain-write")
    assert locked.status_code == 503 and locked.headers["retry-after"] == "1"
    assert locked.json()["ok"] is False
    assert await plain_cache.get(ds, "big") is None  # nothing was stored half-way
    assert (await ds.client.post("/-/toolkit/plain-write")).status_code == 200
    assert await plain_cache.get(ds, "big") == "x" * 30_000
