import asyncio
import datetime
import io
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import xml.etree.ElementTree as ET
from html import escape, unescape
from urllib.parse import quote

import segno
import sqlite_utils
from datasette.url_builder import Urls
from datasette_internal_bookmarks import api_links, store_links, visits
from datasette_internal_bookmarks.migrations import LINK_DAYS, LINKS, migrations
from datasette_internal_bookmarks.redirect import READ_NODE_SECONDS, link_cache
from datasette_internal_bookmarks.routes import routes
from datasette_internal_bookmarks.settings import PLUGIN
from datasette_internal_bookmarks.visits import VisitBuffer
from datasette_internal_db import audit, clock, get_internal_db
from datasette_internal_db.testing import (
    UNSAFE_REDIRECTS,
    close,
    cookies_for,
    make_datasette,
    only_plugins,
)

API = "/-/l/api/links"


async def create(ds, cookies, **data):
    response = await ds.client.post(API, json=data, cookies=cookies)
    assert response.status_code == 201, response.text
    return response.json()["link"]


async def insert_raw_link(ds, code, target):
    await get_internal_db(ds).execute_write(
        f"insert into {LINKS} (code, target, owner_id, resource_kind, created_at, updated_at)"
        " values (?, ?, 'mallory', 'instance', '2026-01-01', '2026-01-01')",
        [code, target],
    )


async def test_short_link_redirects_to_local_path(ds, alice):
    link = await create(ds, alice, target="/data/places?country=fr", title="French places")
    assert link["path"] == f"/-/l/{link['code']}"
    response = await ds.client.get(link["path"])
    assert response.status_code == 302
    assert response.headers["location"] == "/data/places?country=fr"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"


def test_every_view_carries_its_signature():
    """Datasette asks ``inspect.signature(view)`` on every request to pick the view's
    arguments; each view here is wrapped by core's ``route()``, which stores it (core's
    test_a_route_view_carries_its_signature shows a request then builds none)."""
    for pattern, view in routes:
        assert "__signature__" in vars(view), pattern


async def test_open_redirect_corpus_refused_at_creation(ds, alice):
    for target in UNSAFE_REDIRECTS:
        body = json.dumps({"target": target}).encode()  # "\ud800" too, which json= cannot send
        response = await ds.client.post(API, content=body, cookies=alice)
        assert response.status_code == 400, target
        body = response.json()
        assert body["ok"] is False and body["errors"]
    links_left = await get_internal_db(ds).execute(f"select count(*) from {LINKS}")
    assert links_left.single_value() == 0


async def test_bad_target_in_the_database_is_refused_at_redirect(ds):
    planted = [
        "//evil.example",
        "/\\evil.example",
        "/%2F%2Fevil.example",
        "/%5Cevil.example",
        "https://evil.example",
        "javascript:alert(1)",
        "/ok\r\nSet-Cookie: a=b",
        "/a b",
    ]
    for number, target in enumerate(planted):
        await insert_raw_link(ds, f"planted{number}", target)
        response = await ds.client.get(f"/-/l/planted{number}")
        assert response.status_code == 400, target
        assert "location" not in response.headers
        assert "evil" not in response.text


async def test_base_url_is_applied_to_redirects(tmp_path, data_db):
    ds = await make_datasette(tmp_path, files=[data_db], settings={"base_url": "/prefix/"})
    try:
        cookies = cookies_for(ds, "alice")
        link = await create(ds, cookies, target="/prefix/data/places")
        assert link["target"] == "/data/places"
        assert link["path"] == f"/prefix/-/l/{link['code']}"
        # datasette.client adds base_url to the paths it is given
        response = await ds.client.get(f"/-/l/{link['code']}")
        assert response.headers["location"] == "/prefix/data/places"
    finally:
        close(ds)


async def test_codes_are_random_from_the_safe_alphabet(ds, alice):
    codes = [(await create(ds, alice, target="/data"))["code"] for _ in range(20)]
    assert len(set(codes)) == 20
    for code in codes:
        assert len(code) == api_links.CODE_LENGTH
        assert set(code) <= set(api_links.CODE_ALPHABET)
        assert not set(code) & set("0O1lIo")
    # Not sequential: no two consecutive codes share a prefix of 4.
    assert len({code[:4] for code in codes}) > 15


async def test_colliding_code_is_regenerated(ds, alice, monkeypatch):
    await insert_raw_link(ds, "Taken22", "/data")
    generated = iter(["Taken22", "Fresh33"])
    monkeypatch.setattr(api_links, "random_code", lambda: next(generated))
    link = await create(ds, alice, target="/data/places")
    assert link["code"] == "Fresh33"


async def test_custom_slugs(ds, alice, bob):
    link = await create(ds, alice, target="/data/places", code="paris-2026")
    assert link["code"] == "paris-2026"
    taken = await ds.client.post(API, json={"target": "/data", "code": "paris-2026"}, cookies=bob)
    assert taken.status_code == 400
    assert "taken" in taken.json()["errors"][0]
    for slug in [
        "api",
        "API",
        "new",
        "qr",
        "a",
        "../x",
        "a/b",
        "a b",
        "x:y",
        "a?b",
        "é-slug",
        "-start",
        "x" * 65,
        "a#b",
        "a@b",
    ]:
        response = await ds.client.post(API, json={"target": "/data", "code": slug}, cookies=bob)
        assert response.status_code == 400, slug


async def test_expired_and_used_up_links_answer_410(ds, alice, frozen_time):
    expiring = await create(ds, alice, target="/data", expires_at="2027-01-15T10:00:00+00:00")
    limited = await create(ds, alice, target="/data", max_visits=2)
    assert (await ds.client.get(expiring["path"])).status_code == 302
    frozen_time.advance(10 * 365 * 86400)
    gone = await ds.client.get(expiring["path"])
    assert gone.status_code == 410
    assert "expired" in gone.text
    assert (await ds.client.get(limited["path"])).status_code == 302
    assert (await ds.client.get(limited["path"])).status_code == 302
    used_up = await ds.client.get(limited["path"])
    assert used_up.status_code == 410
    assert "maximum number" in used_up.text


async def test_a_link_expires_at_its_millisecond(ds, alice, frozen_time):
    link = await create(ds, alice, target="/data", expires_at="2027-01-15T10:00:00.250+00:00")
    expiry = datetime.datetime(2027, 1, 15, 10, 0, 0, 250000, datetime.timezone.utc).timestamp()
    frozen_time.value = expiry - 0.001
    assert (await ds.client.get(link["path"])).status_code == 302
    frozen_time.value = expiry
    assert (await ds.client.get(link["path"])).status_code == 410


async def test_an_unreadable_stored_expiry_stops_the_link(ds, alice):
    link = await create(ds, alice, target="/data", expires_at="2099-01-01T00:00:00Z")
    await get_internal_db(ds).execute_write(
        f"update {LINKS} set expires_at = 'someday' where code = ?", [link["code"]]
    )
    link_cache(ds).forget_link(link["code"])
    assert (await ds.client.get(link["path"])).status_code == 410


async def test_unknown_code_is_404(ds):
    response = await ds.client.get("/-/l/nothere")
    assert response.status_code == 404


async def test_follower_needs_view_permission_on_destination(ds, alice, bob):
    link = await create(ds, alice, target="/data/secret?code=zq7marker")
    assert (await ds.client.get(link["path"], cookies=alice)).status_code == 302
    for cookies in (bob, None):
        denied = await ds.client.get(link["path"], cookies=cookies)
        assert denied.status_code == 403
        assert "location" not in denied.headers
        assert "/data/secret" not in denied.text and "zq7marker" not in denied.text


async def stored_visits(ds, code):
    result = await get_internal_db(ds).execute(
        f"select visits, last_visit_at from {LINKS} where code = ?", [code]
    )
    return result.first()


async def test_redirects_never_write_counts_are_flushed_in_one_batch(
    tmp_path, data_db, monkeypatch
):
    monkeypatch.setattr(visits, "FLUSH_INTERVAL", 3600)
    # Other installed plugins' background tasks would write to the internal DB meanwhile.
    with only_plugins("datasette-internal-bookmarks"):
        ds = await make_datasette(tmp_path, files=[data_db])
    try:
        cookies = cookies_for(ds, "alice")
        link = await create(ds, cookies, target="/data/places")
        writes = []
        internal = get_internal_db(ds)
        original = internal.execute_write_fn

        async def counting_write_fn(*args, **kwargs):
            writes.append(args)
            return await original(*args, **kwargs)

        monkeypatch.setattr(internal, "execute_write_fn", counting_write_fn)
        for _ in range(5):
            assert (await ds.client.get(link["path"])).status_code == 302
        assert writes == []
        assert (await stored_visits(ds, link["code"]))["visits"] == 0
        # The owner already sees the counts that are still in memory.
        detail = (await ds.client.get(f"{API}/{link['code']}", cookies=cookies)).json()
        assert detail["link"]["visits"] == 5
        assert detail["link"]["last_visit_at"] is not None
        assert await link_cache(ds).visits.flush(ds) == 5
        assert len(writes) == 1
        row = await stored_visits(ds, link["code"])
        assert row["visits"] == 5 and row["last_visit_at"]
        detail = (await ds.client.get(f"{API}/{link['code']}", cookies=cookies)).json()
        assert detail["link"]["visits"] == 5
        assert detail["link"]["days"][0]["visits"] == 5
        columns = [c.name for c in await internal.table_column_details(LINKS)]
        assert not {"ip", "user_agent", "referrer"} & set(columns)
    finally:
        close(ds)


async def wait_for(condition, timeout=30):
    """Poll an async ``condition`` until it holds; fail after ``timeout`` seconds."""

    async def until_true():
        while not await condition():
            await asyncio.sleep(0.05)

    await asyncio.wait_for(until_true(), timeout)


async def test_background_task_writes_counts(ds, alice):
    link = await create(ds, alice, target="/data/places")
    for _ in range(3):
        assert (await ds.client.get(link["path"])).status_code == 302

    async def stored_three():
        return (await stored_visits(ds, link["code"]))["visits"] == 3

    await wait_for(stored_three)
    assert link_cache(ds).visits.pending(link["code"]) == 0


async def test_owner_lists_edits_disables_and_deletes(ds, alice, events):
    link = await create(ds, alice, target="/data/places")
    listed = (await ds.client.get(API, cookies=alice)).json()["links"]
    assert [item["code"] for item in listed] == [link["code"]]
    changed = await ds.client.post(
        f"{API}/{link['code']}",
        cookies=alice,
        json={"target": "/data/places?country=de", "title": "DE"},
    )
    assert changed.json()["link"]["target"] == "/data/places?country=de"
    follow = await ds.client.get(link["path"])
    assert follow.headers["location"] == "/data/places?country=de"
    bad = await ds.client.post(
        f"{API}/{link['code']}", cookies=alice, json={"target": "//evil.example"}
    )
    assert bad.status_code == 400
    await ds.client.post(f"{API}/{link['code']}", cookies=alice, json={"disabled": True})
    disabled = await ds.client.get(link["path"])
    assert disabled.status_code == 410 and "disabled" in disabled.text
    deleted = await ds.client.delete(f"{API}/{link['code']}", cookies=alice)
    assert deleted.json() == {"ok": True, "deleted": link["code"]}
    assert (await ds.client.get(link["path"])).status_code == 404
    assert events.names() == ["short-link-created", "short-link-deleted"]
    actions = [entry["action"] for entry in await audit.entries(ds, plugin=PLUGIN)]
    assert actions == ["short-link-deleted", "short-link-disabled"]


async def test_others_cannot_read_or_change_a_link(ds, alice, bob):
    link = await create(ds, alice, target="/data/places")
    url = f"{API}/{link['code']}"
    assert (await ds.client.get(url, cookies=bob)).status_code == 404
    assert (await ds.client.post(url, cookies=bob, json={"target": "/data"})).status_code == 404
    assert (await ds.client.delete(url, cookies=bob)).status_code == 404
    assert (await ds.client.post(url + "/delete", cookies=bob)).status_code == 404
    assert (await ds.client.get(API, cookies=bob)).json()["links"] == []
    assert (await ds.client.get(API + "?all=1", cookies=bob)).status_code == 403
    assert (await ds.client.get(url)).status_code == 403
    assert (await ds.client.get(link["path"])).headers["location"] == "/data/places"


async def test_another_users_link_is_answered_as_a_code_never_used(ds, alice, bob):
    # README: "Managing a link needs to be its owner or `short-links-admin`; anyone else gets
    # `404`": the very 404 of an unknown code (status and body), so codes reveal nothing there.
    link = await create(ds, alice, target="/data/places", title="Alice's link")
    for method, path, body in [
        ("GET", API + "/{}", None),
        ("POST", API + "/{}", {"title": "x"}),
        ("DELETE", API + "/{}", None),
        ("POST", API + "/{}/delete", None),
        ("GET", "/-/links/{}", None),
    ]:
        unknown = await ds.client.request(method, path.format("nosuchcode"), cookies=bob, json=body)
        taken = await ds.client.request(method, path.format(link["code"]), cookies=bob, json=body)
        assert unknown.status_code == 404, path
        assert (taken.status_code, taken.text) == (unknown.status_code, unknown.text), path


async def test_admin_manages_all_links_and_is_audited(ds, alice, root):
    link = await create(ds, alice, target="/data/places")
    everyone = (await ds.client.get(API + "?all=1", cookies=root)).json()["links"]
    assert [item["owner_id"] for item in everyone] == ["alice"]
    await ds.client.post(f"{API}/{link['code']}", cookies=root, json={"title": "moderated"})
    response = await ds.client.post(f"{API}/{link['code']}/delete", cookies=root)
    assert response.status_code == 200
    entries = await audit.entries(ds, plugin=PLUGIN)
    assert [(e["action"], e["actor_id"]) for e in entries] == [
        ("short-link-deleted", "root"),
        ("short-link-updated", "root"),
    ]
    assert entries[0]["details"]["owner_id"] == "alice"


async def test_anonymous_cannot_create_and_config_can_deny(tmp_path, data_db):
    ds = await make_datasette(
        tmp_path,
        files=[data_db],
        config={"permissions": {"short-links-create": {"id": "alice"}}},
    )
    try:
        anonymous = await ds.client.post(API, json={"target": "/data"})
        assert anonymous.status_code == 403
        bob = await ds.client.post(API, json={"target": "/data"}, cookies=cookies_for(ds, "bob"))
        assert bob.status_code == 403
        assert bob.json()["ok"] is False
        alice = await ds.client.post(
            API, json={"target": "/data"}, cookies=cookies_for(ds, "alice")
        )
        assert alice.status_code == 201
    finally:
        close(ds)


BAD_BODIES = [
    (b"not json", "application/json"),
    (b"[1, 2]", "application/json"),
    (b'{"target": 5}', "application/json"),
    (b'{"target": "/data", "max_visits": -1}', "application/json"),
    (b'{"target": "/data", "max_visits": "many"}', "application/json"),
    (b'{"target": "/data", "expires_at": "tomorrow"}', "application/json"),
    (b'{"target": "/data", "title": 7}', "application/json"),
    (b'{"target": "/-/l/abc"}', "application/json"),
    (b"target=%2F%2Fevil.example", "application/x-www-form-urlencoded"),
]


async def test_bad_input_is_a_400_json_error(ds, alice):
    for body, content_type in BAD_BODIES:
        headers = {"content-type": content_type, "accept": "application/json"}
        response = await ds.client.post(API, content=body, cookies=alice, headers=headers)
        assert response.status_code == 400, body
        assert response.json()["ok"] is False
    # A browser's form (no Accept: application/json) gets the error page, as every route does.
    form = {"content-type": "application/x-www-form-urlencoded"}
    page = await ds.client.post(API, content=BAD_BODIES[-1][0], cookies=alice, headers=form)
    assert page.status_code == 400 and "text/html" in page.headers["content-type"]
    link = await create(ds, alice, target="/data")
    changes = (
        {"disabled": "perhaps"},
        {"owner_id": "bob"},
        {},
        {"max_visits": 0},
        {"max_visits": 10**30},
    )
    for change in changes:
        response = await ds.client.post(f"{API}/{link['code']}", json=change, cookies=alice)
        assert response.status_code == 400, change
        assert response.json()["ok"] is False


async def test_a_link_to_a_short_link_is_refused_in_any_encoding(ds, alice):
    """README: "A link cannot point to another short link", also when spelled with percent
    escapes that a path-decoding proxy in front of Datasette would turn back into /-/l/."""
    first = await create(ds, alice, target="/data")
    spellings = [
        f"/-/l/{first['code']}",
        f"/-/%6C/{first['code']}",
        f"/%2D/l/{first['code']}",
        f"/-/l%2F{first['code']}",
        f"/-/%256C/{first['code']}",
        f"/-/l/{first['code']}?utm=x",
    ]
    for target in spellings:
        response = await ds.client.post(API, json={"target": target}, cookies=alice)
        assert response.status_code == 400, target
        assert response.json() == {
            "ok": False,
            "errors": ["A short link cannot point to another short link"],
        }
        edit = await ds.client.post(
            f"{API}/{first['code']}", json={"target": target}, cookies=alice
        )
        assert edit.status_code == 400, target
    assert (await ds.client.get(first["path"])).headers["location"] == "/data"
    # Paths that only look alike are fine.
    for target in ("/-/links", "/data/l/x", "/-/%6Cinks"):
        assert (
            await ds.client.post(API, json={"target": target}, cookies=alice)
        ).status_code == 201


async def test_cross_site_post_with_cookie_is_refused(ds, alice):
    response = await ds.client.post(
        API, json={"target": "/data"}, cookies=alice, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert response.status_code == 403
    count = await get_internal_db(ds).execute(f"select count(*) from {LINKS}")
    assert count.single_value() == 0


def test_loading_the_plugin_does_not_import_segno():
    """segno is for the QR code route only: importing it cost every Datasette start 75-120 ms."""
    probe = "import sys, datasette.app; "
    probe += "print('datasette_internal_bookmarks' in sys.modules, 'segno' in sys.modules)"
    answer = subprocess.run(
        [sys.executable, "-c", probe],
        env=dict(
            os.environ, DATASETTE_LOAD_PLUGINS="datasette-internal-db,datasette-internal-bookmarks"
        ),
        capture_output=True,
        text=True,
        check=True,
    )
    assert answer.stdout.split() == ["True", "False"], answer.stderr[-2000:]


async def test_qr_code_is_a_standalone_svg_and_a_png_of_the_short_url(ds, alice):
    link = await create(ds, alice, target="/data")
    response = await ds.client.get(link["qr"])
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/svg+xml"
    # A browser shows an SVG file or <img> only with the SVG namespace on its root.
    root = ET.fromstring(response.content)  # noqa: S314 (the SVG this plugin just made)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    expected = io.BytesIO()
    segno.make(link["url"], error="m").save(expected, kind="svg", scale=6, border=4)
    assert response.content == expected.getvalue()
    png = await ds.client.get(link["qr_png"])
    assert png.status_code == 200
    assert png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
    for kind in ("svg", "png"):
        assert (await ds.client.get(f"/-/l/nothere/qr.{kind}")).status_code == 404
    assert (await ds.client.get(f"{link['path']}/qr.gif")).status_code == 404


async def test_links_page_creates_from_a_form(ds, alice):
    response = await ds.client.post(
        "/-/links",
        cookies=alice,
        content=b"target=%2Fdata%2Fplaces&title=%3Cb%3Ex",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    assert "&lt;b&gt;x" in response.text and "<b>x" not in response.text
    refused = await ds.client.post(
        "/-/links",
        cookies=alice,
        content=b"target=javascript%3Aalert(1)",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert refused.status_code == 400
    assert "local path" in refused.text


async def test_links_to_stored_queries_and_sql_check_their_own_permissions(tmp_path, data_db):
    config = {
        "databases": {
            "data": {
                "queries": {
                    "french": {
                        "sql": "select * from places where country = 'fr'",
                        "allow": {"id": "alice"},
                    }
                },
                "allow_sql": {"id": "alice"},
            }
        }
    }
    ds = await make_datasette(tmp_path, files=[data_db], config=config)
    try:
        alice, bob = cookies_for(ds, "alice"), cookies_for(ds, "bob")
        query = await create(ds, alice, target="/data/french")
        sql = await create(ds, alice, target="/data/-/query?sql=select+*+from+places")
        for link in (query, sql):
            assert (await ds.client.get(link["path"], cookies=alice)).status_code == 302
            assert (await ds.client.get(link["path"], cookies=bob)).status_code == 403
            assert (await ds.client.get(link["path"])).status_code == 403
    finally:
        close(ds)


async def test_out_of_range_expiry_is_a_400(ds, alice):
    for moment in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"):
        response = await ds.client.post(
            API, cookies=alice, json={"target": "/data", "expires_at": moment}
        )
        assert response.status_code == 400
        assert "expires_at" in response.json()["errors"][0]


async def test_default_deny_turns_the_signed_in_default_off(tmp_path, data_db):
    ds = await make_datasette(tmp_path, files=[data_db], default_deny=True)
    try:
        alice = cookies_for(ds, "alice")
        link = await ds.client.post(API, json={"target": "/data"}, cookies=alice)
        assert link.status_code == 403
        mark = await ds.client.post(
            "/-/bookmarks/api/bookmarks", json={"url": "/data"}, cookies=alice
        )
        assert mark.status_code == 403
    finally:
        close(ds)


async def test_link_read_during_a_flush_waits_for_the_exact_count(tmp_path, data_db, monkeypatch):
    # A link read from the database while a flush is writing its count would see neither the
    # stored nor the in-memory visits and let max_visits be exceeded.
    monkeypatch.setattr(visits, "FLUSH_INTERVAL", 3600)
    ds = await make_datasette(tmp_path, files=[data_db])
    try:
        link = await create(ds, cookies_for(ds, "alice"), target="/data", max_visits=3)
        for _ in range(2):
            assert (await ds.client.get(link["path"])).status_code == 302
        state = link_cache(ds)
        state.forget_link(link["code"])  # as if evicted from the LRU cache
        release = asyncio.Event()
        original = store_links.add_visits

        async def slow_add_visits(*args):
            await release.wait()
            return await original(*args)

        monkeypatch.setattr(store_links, "add_visits", slow_add_visits)
        waiting = asyncio.Event()
        settled = VisitBuffer.settled

        async def observed_settled(buffer, code):
            if code in buffer.in_flight:
                waiting.set()
            return await settled(buffer, code)

        monkeypatch.setattr(VisitBuffer, "settled", observed_settled)
        flush = asyncio.create_task(state.visits.flush(ds))
        await asyncio.sleep(0)
        assert link["code"] in state.visits.in_flight
        follow = asyncio.create_task(ds.client.get(link["path"]))
        # The redirect found the count being written and waits for the flush to end.
        await asyncio.wait_for(waiting.wait(), 30)
        assert not follow.done()
        release.set()
        assert await flush == 2
        assert (await follow).status_code == 302
        assert (await ds.client.get(link["path"])).status_code == 410
    finally:
        release.set()
        close(ds)


async def test_links_listed_during_a_flush_show_every_visit(tmp_path, data_db, monkeypatch):
    # A flush takes the counts out of memory before its write lands: a list read in between
    # saw neither the stored nor the in-memory visits (the list page showed 1 visit of 2).
    monkeypatch.setattr(visits, "FLUSH_INTERVAL", 3600)
    ds = await make_datasette(tmp_path, files=[data_db])
    release = asyncio.Event()
    try:
        alice = cookies_for(ds, "alice")
        link = await create(ds, alice, target="/data")
        for _ in range(2):
            assert (await ds.client.get(link["path"])).status_code == 302
        original = store_links.add_visits

        async def slow_add_visits(*args):
            await release.wait()
            return await original(*args)

        monkeypatch.setattr(store_links, "add_visits", slow_add_visits)
        flush = asyncio.create_task(link_cache(ds).visits.flush(ds))
        await asyncio.sleep(0)
        assert link["code"] in link_cache(ds).visits.in_flight
        listed = asyncio.create_task(ds.client.get(API, cookies=alice))
        one = asyncio.create_task(ds.client.get(f"{API}/{link['code']}", cookies=alice))
        await asyncio.sleep(0.2)
        release.set()
        assert await flush == 2
        assert [item["visits"] for item in (await listed).json()["links"]] == [2]
        assert (await one).json()["link"]["visits"] == 2
    finally:
        release.set()
        close(ds)


async def test_busy_internal_file_falls_back_to_a_threaded_read(ds, alice, monkeypatch):
    link = await create(ds, alice, target="/data/places")
    reads = []

    def busy(reader, code):
        reads.append(code)
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(store_links, "get_link_now", busy)
    response = await ds.client.get(link["path"])
    assert response.status_code == 302
    assert response.headers["location"] == "/data/places"
    assert reads == [link["code"]]


async def test_event_loop_reader_sees_every_commit(ds, alice):
    # Links planted behind the plugin's back are read fresh: no read transaction stays open.
    for code, target in [("fresh-one", "/data"), ("fresh-two", "/data/places")]:
        assert (await ds.client.get(f"/-/l/{code}")).status_code == 404
        await insert_raw_link(ds, code, target)
        assert (await ds.client.get(f"/-/l/{code}")).headers["location"] == target


async def test_a_read_nodes_cached_link_is_read_again_after_its_bound(ds, alice, frozen_time):
    # On a read node the primary changes links: no write of this process drops the entry.
    link = await create(ds, alice, target="/data/places")
    cache = link_cache(ds)
    cache.fresh_seconds = READ_NODE_SECONDS  # what link_cache() sets on a read node
    cache.forget_link(link["code"])
    assert (await ds.client.get(link["path"])).headers["location"] == "/data/places"
    internal = get_internal_db(ds)
    # What the replica brings from the primary: an edit, then a delete.
    await internal.execute_write(
        f"update {LINKS} set target = '/data' where code = ?", [link["code"]]
    )
    assert (await ds.client.get(link["path"])).headers["location"] == "/data/places"
    frozen_time.advance(READ_NODE_SECONDS)
    assert (await ds.client.get(link["path"])).headers["location"] == "/data"
    await internal.execute_write(f"delete from {LINKS} where code = ?", [link["code"]])
    frozen_time.advance(READ_NODE_SECONDS)
    assert (await ds.client.get(link["path"])).status_code == 404


async def test_a_primarys_cached_link_lasts_until_this_process_changes_it(ds, alice, frozen_time):
    link = await create(ds, alice, target="/data/places")
    assert link_cache(ds).fresh_seconds is None
    assert (await ds.client.get(link["path"])).status_code == 302
    await get_internal_db(ds).execute_write(
        f"update {LINKS} set target = '/data' where code = ?", [link["code"]]
    )
    frozen_time.advance(3600)
    # Not read again: only this process writes a primary's links (core's one-server lock).
    assert (await ds.client.get(link["path"])).headers["location"] == "/data/places"


async def test_links_are_paged_newest_first_even_within_one_millisecond(
    ds, alice, bob, root, frozen_time
):
    # Frozen time: every link has the same created_at, so only the code orders them.
    codes = [(await create(ds, alice, target=f"/data/places/{i}"))["code"] for i in range(53)]
    await create(ds, bob, target="/data")
    expected = sorted(codes, reverse=True)

    seen, query = [], ""
    while True:
        body = (await ds.client.get(API + query, cookies=alice)).json()
        seen += [link["code"] for link in body["links"]]
        if body["next"] is None:
            assert body["next_url"] is None
            break
        assert body["next_url"] == API + "?_next=" + quote(body["next"], safe="~")
        query = "?_next=" + quote(body["next"])
    assert seen == expected

    first = (await ds.client.get("/-/links", cookies=alice)).text
    assert first.count("<tr data-code=") == api_links.PAGE_SIZE
    older = re.search(r'class="older-links" href="([^"]+)"', first).group(1)
    second = (await ds.client.get(unescape(older), cookies=alice)).text
    shown = re.findall(r'<tr data-code="([^"]+)"', first) + re.findall(
        r'<tr data-code="([^"]+)"', second
    )
    assert shown == expected
    assert "older-links" not in second

    # An admin's "everyone" view keeps all=1 on the next page.
    everyone = (await ds.client.get("/-/links?all=1", cookies=root)).text
    assert 'href="/-/links?all=1&amp;_next=' in everyone
    bad = await ds.client.get(API + "?_next=not-a-cursor", cookies=alice)
    assert bad.status_code == 400
    assert (await ds.client.get("/-/links?_next=x,%00", cookies=alice)).status_code == 400


async def test_flush_adds_to_existing_counts_and_drops_deleted_links(ds, alice):
    link = await create(ds, alice, target="/data")
    code = link["code"]
    jan_1, jan_2 = 20454, 20455  # days since 1970-01-01
    jan_2_10h = (jan_2 * 86400 + 10 * 3600) * 1000
    await store_links.add_visits(
        ds, [[code, 2, jan_2_10h], ["gone", 5, jan_2_10h]], {jan_2: {code: 2, "gone": 5}}
    )
    await store_links.add_visits(
        ds, [[code, 4, jan_2_10h - 25 * 3600 * 1000]], {jan_1: {code: 3}, jan_2: {code: 1}}
    )
    row = await stored_visits(ds, code)
    assert row["visits"] == 6 and row["last_visit_at"] == "2026-01-02T10:00:00.000+00:00"
    assert await store_links.link_days(ds, code) == [
        {"day": "2026-01-02", "visits": 3},
        {"day": "2026-01-01", "visits": 3},
    ]
    assert await store_links.link_days(ds, "gone") == []


async def test_a_failed_flush_keeps_every_count_for_the_next(ds, alice, frozen_time, monkeypatch):
    # The buffer keeps day counts as {day: {code: count}}: a failed write must put each back
    # and add it to what was counted meanwhile, on either side of midnight.
    link = await create(ds, alice, target="/data")
    other = await create(ds, alice, target="/data/places")
    buffer = link_cache(ds).visits
    frozen_time.value = 1767311999.5  # 2026-01-01T23:59:59.5
    buffer.record(link["code"])
    buffer.record(other["code"])
    frozen_time.advance(1)  # 2026-01-02
    buffer.record(link["code"])
    original = store_links.add_visits

    async def failing_add_visits(*args):
        buffer.record(link["code"])  # counted while the failing write is under way
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(store_links, "add_visits", failing_add_visits)
    try:
        await buffer.flush(ds)
    except sqlite3.OperationalError:
        pass
    else:
        raise AssertionError("the flush should have failed")
    assert (buffer.pending(link["code"]), buffer.pending(other["code"])) == (3, 1)
    monkeypatch.setattr(store_links, "add_visits", original)
    assert await buffer.flush(ds) == 4
    assert (await stored_visits(ds, link["code"]))["visits"] == 3
    assert await store_links.link_days(ds, link["code"]) == [
        {"day": "2026-01-02", "visits": 2},
        {"day": "2026-01-01", "visits": 1},
    ]
    assert await store_links.link_days(ds, other["code"]) == [{"day": "2026-01-01", "visits": 1}]


async def test_flushed_visit_times_are_clock_iso_text(ds, alice, frozen_time):
    # SQLite formats the times a flush writes; the text must be what clock.iso shows.
    link = await create(ds, alice, target="/data")
    buffer = link_cache(ds).visits
    for moment in (1767348000.0, 1767348000.9999996, 1767348061.2569999, 1767348122.0005):
        frozen_time.value = moment
        buffer.record(link["code"])
        assert buffer.unwritten(link["code"])[1] == clock.iso(moment)
        await buffer.flush(ds)
        assert (await stored_visits(ds, link["code"]))["last_visit_at"] == clock.iso(moment)
    assert await store_links.link_days(ds, link["code"]) == [{"day": "2026-01-02", "visits": 4}]


async def test_reuse_gives_the_actors_working_link_to_the_same_view(ds, alice, bob, frozen_time):
    first = await ds.client.post(
        API, json={"target": "/data/places?country=fr&_size=5", "reuse": True}, cookies=alice
    )
    assert first.status_code == 201 and first.json()["created"] is True
    code = first.json()["link"]["code"]
    # Same view (parameters in another order, paging noise): the same link.
    again = await ds.client.post(
        API, json={"target": "/data/places?_next=3&country=fr", "reuse": True}, cookies=alice
    )
    assert again.status_code == 200
    assert (again.json()["created"], again.json()["link"]["code"]) == (False, code)
    # Someone else's link, another view, or a link with its own limits: a new one.
    others = [
        (bob, {"target": "/data/places?country=fr", "reuse": True}),
        (alice, {"target": "/data/places?country=de", "reuse": True}),
        (alice, {"target": "/data/places?country=fr", "reuse": True, "max_visits": 3}),
        (alice, {"target": "/data/places?country=fr"}),
    ]
    for cookies, body in others:
        response = await ds.client.post(API, json=body, cookies=cookies)
        assert response.status_code == 201, body
        assert response.json()["link"]["code"] != code
    # A disabled link is not handed out again; the other link without limits is.
    await ds.client.post(f"{API}/{code}", json={"disabled": True}, cookies=alice)
    plain = (await ds.client.get(API, cookies=alice)).json()["links"]
    (unlimited,) = [
        link["code"]
        for link in plain
        if link["code"] != code
        and link["target"] == "/data/places?country=fr"
        and link["max_visits"] is None
    ]
    after = await ds.client.post(
        API, json={"target": "/data/places?country=fr", "reuse": True}, cookies=alice
    )
    assert after.json()["link"]["code"] == unlimited
    assert (
        await ds.client.post(API, json={"target": "/data", "reuse": "x"}, cookies=alice)
    ).status_code == 400


def test_the_migration_gives_existing_links_their_target_key(tmp_path):
    db = sqlite_utils.Database(tmp_path / "internal.db")
    migrations.apply(db, stop_before="m007_link_target_keys")
    for code, target in [("a1", "/data/places?b=2&a=1&_size=5"), ("a2", "//evil.example")]:
        db[LINKS].insert(
            {
                "code": code,
                "target": target,
                "owner_id": "alice",
                "resource_kind": "table",
                "created_at": "2026-01-01",
                "updated_at": "2026-01-01",
            }
        )
    migrations.apply(db)
    keys = {row["code"]: row["target_key"] for row in db.query(f"select * from {LINKS}")}
    assert keys == {"a1": "/data/places?a=1&b=2", "a2": None}


async def test_the_action_menus_carry_copy_short_link(ds, alice):
    for path in (
        "/data/places?country=fr",
        "/data/places/1",
        "/data",
        "/data/-/query?sql=select+1",
    ):
        page = (await ds.client.get(path, cookies=alice)).text
        assert 'data-short-link-api="/-/l/api/links"' in page, path
        assert f'data-short-link-target="{escape(path)}"' in page, path
        assert "copy-short-link.js" in page and "datasette-internal.js" in page, path
    anonymous = (await ds.client.get("/data/places")).text
    assert "Copy short link" not in anonymous and "copy-short-link.js" not in anonymous


async def test_the_menus_work_out_their_urls_once_per_datasette(tmp_path, data_db, monkeypatch):
    """Issue 17: a page the plugin does not own asks Datasette's URL builder nothing for the
    menus after the first page (their URLs depend only on base_url), and each Datasette keeps
    its own base_url."""
    ds = await make_datasette(tmp_path, files=[data_db], settings={"base_url": "/prefix/"})
    try:
        cookies = cookies_for(ds, "alice")
        await ds.client.get("/data/places", cookies=cookies)
        asked = []
        for name in ("path", "static_plugins"):
            build = getattr(Urls, name)

            def counting(urls, *args, build=build, **kwargs):
                asked.append(args)
                return build(urls, *args, **kwargs)

            # datasette.urls is a new Urls object on every access.
            monkeypatch.setattr(Urls, name, counting)
        page = (await ds.client.get("/data/places", cookies=cookies)).text
        ours = ("datasette-internal-bookmarks", "/-/bookmarks", "/-/links", "/-/l/")
        assert not [args for args in asked if str(args[0]).startswith(ours)]
        assert 'data-short-link-api="/prefix/-/l/api/links"' in page
        assert 'href="/prefix/-/bookmarks/new?url=%2Fprefix%2Fdata%2Fplaces' in page
        assert '"/prefix/-/static-plugins/datasette-internal-bookmarks/copy-short-link.js"' in page
        assert '"/prefix/-/static-plugins/datasette-internal-bookmarks/bookmarks.css"' in page
        assert "/prefix/prefix/-/static-plugins/" not in page
        assert 'href="/prefix/-/links">Short links' in page
    finally:
        close(ds)
    # Another Datasette in the same process, without the prefix, gets its own URLs.
    page = (await other_datasette_page(tmp_path, data_db)).text
    assert 'data-short-link-api="/-/l/api/links"' in page and "/prefix/" not in page


async def other_datasette_page(tmp_path, data_db):
    directory = tmp_path / "other"
    directory.mkdir()
    ds = await make_datasette(directory, files=[data_db])
    try:
        return await ds.client.get("/data/places", cookies=cookies_for(ds, "alice"))
    finally:
        close(ds)


async def test_a_links_page_shows_its_qr_code_and_every_field(ds, alice, bob, root):
    link = await create(
        ds, alice, target="/data/places", title="Places", expires_at="2027-01-15T22:00:00Z"
    )
    page = await ds.client.get(link["page"], cookies=alice)
    assert page.status_code == 200
    assert f'<img class="qr" src="{link["qr"]}" alt="QR code of {link["url"]}">' in page.text
    assert f'data-di-copy="{link["url"]}"' in page.text
    assert '<time class="di-time" datetime="2027-01-15T22:00:00.000+00:00"' in page.text
    assert 'data-expires-at="2027-01-15T22:00:00.000+00:00"' in page.text
    assert (await ds.client.get(link["page"], cookies=root)).status_code == 200
    for cookies in (bob, None):
        assert (await ds.client.get(link["page"], cookies=cookies)).status_code in (403, 404)


async def test_the_create_form_reads_expiry_in_utc_without_its_script(ds, alice):
    form = {"target": "/data", "expires_local": "2027-01-15T17:00", "expires_at": ""}
    response = await ds.client.post(
        "/-/links",
        cookies=alice,
        content=urllib.parse.urlencode(form).encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    assert "In UTC" in response.text
    stored = (await ds.client.get(API, cookies=alice)).json()["links"][0]
    assert stored["expires_at"] == "2027-01-15T17:00:00.000+00:00"
    form["expires_at"] = "2027-01-15T22:00:00.000Z"  # what links.js sends from New York
    await ds.client.post(
        "/-/links",
        cookies=alice,
        content=urllib.parse.urlencode(form).encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    stored = (await ds.client.get(API, cookies=alice)).json()["links"][0]
    assert stored["expires_at"] == "2027-01-15T22:00:00.000+00:00"


async def test_deleting_a_link_deletes_its_counts(tmp_path, data_db, monkeypatch):
    # README, API: "DELETE /-/l/api/links/<code> ... delete with its counts": the stored
    # visits per day and those still in memory. A new link given the same custom code starts
    # from nothing.
    monkeypatch.setattr(visits, "FLUSH_INTERVAL", 3600)  # flushes only when this test asks
    ds = await make_datasette(tmp_path, files=[data_db])
    try:
        cookies = cookies_for(ds, "alice")
        link = await create(ds, cookies, target="/data/places", code="reused-code")
        buffer = link_cache(ds).visits
        for _ in range(3):
            assert (await ds.client.get(link["path"])).status_code == 302
        assert await buffer.flush(ds) == 3
        assert await store_links.link_days(ds, "reused-code") != []
        for _ in range(2):  # counted in memory, not yet written
            assert (await ds.client.get(link["path"])).status_code == 302
        deleted = await ds.client.delete(f"{API}/reused-code", cookies=cookies)
        assert deleted.json() == {"ok": True, "deleted": "reused-code"}
        days_left = await get_internal_db(ds).execute(
            f"select count(*) from {LINK_DAYS} where code = ?", ["reused-code"]
        )
        assert days_left.single_value() == 0
        await create(ds, cookies, target="/data", code="reused-code")
        await buffer.flush(ds)
        fresh = (await ds.client.get(f"{API}/reused-code", cookies=cookies)).json()["link"]
        assert (fresh["visits"], fresh["last_visit_at"], fresh["days"]) == (0, None, [])
    finally:
        close(ds)


async def test_an_expiry_without_offset_is_utc_whatever_the_servers_zone(ds, alice):
    # README, Short links: "expires_at is ISO 8601 (no offset means UTC)", stored in UTC.
    zone = os.environ.get("TZ")
    os.environ["TZ"] = "EST+05"  # POSIX form: needs no tz database
    time.tzset()
    try:
        cases = {
            "2027-01-31T00:00:00": "2027-01-31T00:00:00.000+00:00",
            "2027-01-31T00:00:00+02:00": "2027-01-30T22:00:00.000+00:00",
            "2027-07-01T12:30:00Z": "2027-07-01T12:30:00.000+00:00",
        }
        for given, stored in cases.items():
            link = await create(ds, alice, target="/data", expires_at=given)
            assert link["expires_at"] == stored, given
    finally:
        if zone is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = zone
        time.tzset()


async def test_a_refused_follower_sees_neither_the_title_nor_the_target(ds, alice, bob):
    # README, safety model: "403 'You may not view this link's destination' with neither the
    # target path nor its title".
    link = await create(
        ds, alice, target="/data/secret/1?code=zq7marker", title="Payroll of Qx9 division"
    )
    for cookies in (bob, None):
        denied = await ds.client.get(link["path"], cookies=cookies)
        assert denied.status_code == 403
        assert "You may not view this link&#39;s destination" in denied.text
        assert "location" not in denied.headers
        for secret in ("Payroll", "Qx9", "secret", "zq7marker"):
            assert secret not in denied.text, secret
