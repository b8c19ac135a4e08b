import html.parser
import json
import urllib.parse

import pytest
import sqlite_utils
from datasette_internal_bookmarks import api_bookmarks, fragments, store_bookmarks
from datasette_internal_bookmarks.access import BOOKMARKS_CREATE, SHORT_LINKS_CREATE
from datasette_internal_bookmarks.migrations import BOOKMARKS, TAGS, migrations
from datasette_internal_db import (
    MARKDOWN_VERSION,
    get_internal_db,
    jobs,
    loop_reads,
    render_markdown,
)
from datasette_internal_db.testing import close, cookies_for, make_datasette

API = "/-/bookmarks/api/bookmarks"
STORED_QUERY_CONFIG = {
    "databases": {"data": {"queries": {"french": "select * from places where country = 'fr'"}}}
}


async def bookmark(ds, cookies, **data):
    response = await ds.client.post(API, json=data, cookies=cookies)
    assert response.status_code in (200, 201), response.text
    return response.json()["bookmark"]


async def listed(ds, cookies, query=""):
    response = await ds.client.get(API + query, cookies=cookies)
    assert response.status_code == 200, response.text
    return response.json()


async def test_bookmark_a_filtered_table(ds, alice, events):
    saved = await bookmark(
        ds,
        alice,
        url="/data/places?country=fr&_sort=name",
        tags=["travel", "France"],
        note="Cities *worth* a visit",
    )
    assert saved["url"] == "/data/places?_sort=name&country=fr"
    assert saved["title"] == "places"
    assert saved["kind"] == "table"
    assert saved["tags"] == ["travel", "france"]
    assert saved["shared"] is False
    assert saved["note_html"] == "<p>Cities <em>worth</em> a visit</p>\n"
    assert events.names() == ["bookmark-created"]
    page = await ds.client.get(saved["url"], cookies=alice)
    assert page.status_code == 200 and "Lyon" in page.text and "Berlin" not in page.text


@pytest.mark.parametrize(
    "url,kind",
    [
        ("/data/places/2", "row"),
        ("/data/-/query?sql=select+1", "sql"),
        ("/data", "database"),
        ("/data/french", "query"),
        ("/", "instance"),
    ],
)
async def test_every_kind_of_page(tmp_path, data_db, url, kind):
    config = STORED_QUERY_CONFIG
    ds = await make_datasette(tmp_path, files=[data_db], config=config)
    try:
        saved = await bookmark(ds, cookies_for(ds, "alice"), url=url)
        assert saved["kind"] == kind
        assert saved["path"] == url.replace("+", "%20")
    finally:
        close(ds)


async def test_stored_query_is_linked_never_copied(tmp_path, data_db):
    config = STORED_QUERY_CONFIG
    ds = await make_datasette(tmp_path, files=[data_db], config=config)
    try:
        saved = await bookmark(ds, cookies_for(ds, "alice"), url="/data/french")
        rows = await get_internal_db(ds).execute(f"select * from {BOOKMARKS}")
        assert "country = 'fr'" not in json.dumps([dict(r) for r in rows])
        assert saved["kind"] == "query"
    finally:
        close(ds)


async def test_bookmarking_again_updates_the_same_bookmark(ds, alice, events):
    first = await bookmark(ds, alice, url="/data/places?country=fr&_size=10", title="one")
    response = await ds.client.post(
        API,
        cookies=alice,
        json={"url": "/data/places/?_next=3&country=fr", "title": "two", "tags": "x"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["created"] is False
    assert body["bookmark"]["id"] == first["id"]
    assert body["bookmark"]["title"] == "two"
    count = await get_internal_db(ds).execute(f"select count(*) from {BOOKMARKS}")
    assert count.single_value() == 1
    assert events.names() == ["bookmark-created"]


async def test_private_bookmarks_are_invisible_to_others(ds, alice, bob):
    mine = await bookmark(ds, alice, url="/data/places", title="Alice private")
    assert (await listed(ds, bob))["bookmarks"] == []
    assert (await listed(ds, None))["bookmarks"] == []
    url = f"{API}/{mine['id']}"
    assert (await ds.client.get(url, cookies=bob)).status_code == 404
    assert (await ds.client.post(url, cookies=bob, json={"title": "hacked"})).status_code == 404
    assert (await ds.client.delete(url, cookies=bob)).status_code == 404
    delete_form = await ds.client.post(f"/-/bookmarks/{mine['id']}/delete", cookies=bob)
    assert delete_form.status_code == 404
    page = await ds.client.get("/-/bookmarks", cookies=bob)
    assert "Alice private" not in page.text
    assert (await ds.client.get(url, cookies=alice)).json()["bookmark"]["title"] == "Alice private"


async def test_another_users_bookmark_is_answered_as_an_id_never_used(ds, alice, bob):
    # README, Permissions: "a private bookmark is visible to its owner only. Changing or
    # deleting a bookmark is for its owner only (`404` for anybody else, so ids do not reveal
    # anything)": the 404 must be the very one an unused id gets, status and body.
    private = await bookmark(ds, alice, url="/data/places", title="Alice private")
    shared_hidden = await bookmark(ds, alice, url="/data/secret", shared=True)
    form = {"content-type": "application/x-www-form-urlencoded"}
    requests = [
        ("GET", API + "/{}", {}),
        ("POST", API + "/{}", {"json": {"title": "x"}}),
        ("DELETE", API + "/{}", {}),
        ("GET", "/-/bookmarks/{}/edit", {}),
        ("POST", "/-/bookmarks/{}/edit", {"content": b"title=x", "headers": form}),
        ("POST", "/-/bookmarks/{}/delete", {}),
    ]
    for method, path, kwargs in requests:
        unused = await ds.client.request(method, path.format(10**6), cookies=bob, **kwargs)
        assert unused.status_code == 404, path
        for existing in (private["id"], shared_hidden["id"]):
            answer = await ds.client.request(method, path.format(existing), cookies=bob, **kwargs)
            assert (answer.status_code, answer.text) == (unused.status_code, unused.text), path


async def test_shared_bookmarks_are_listed_only_to_those_who_may_view_the_target(ds, alice, bob):
    public = await bookmark(ds, alice, url="/data/places", title="Shared places", shared=True)
    hidden = await bookmark(ds, alice, url="/data/secret", title="Shared secret", shared=True)
    bob_sees = [b["title"] for b in (await listed(ds, bob))["bookmarks"]]
    assert bob_sees == ["Shared places"]
    anonymous_sees = [b["title"] for b in (await listed(ds, None, "?scope=shared"))["bookmarks"]]
    assert anonymous_sees == ["Shared places"]
    assert (await ds.client.get(f"{API}/{hidden['id']}", cookies=bob)).status_code == 404
    shared = (await ds.client.get(f"{API}/{public['id']}", cookies=bob)).json()["bookmark"]
    assert shared["mine"] is False
    assert (
        await ds.client.post(f"{API}/{public['id']}", cookies=bob, json={"title": "x"})
    ).status_code == 404
    assert [b["title"] for b in (await listed(ds, alice))["bookmarks"]] == [
        "Shared secret",
        "Shared places",
    ]


async def test_owner_edits_and_deletes(ds, alice, events):
    saved = await bookmark(ds, alice, url="/data/places", tags=["a"])
    url = f"{API}/{saved['id']}"
    changed = await ds.client.post(
        url, cookies=alice, json={"tags": ["b", "c"], "shared": True, "note": "n"}
    )
    body = changed.json()["bookmark"]
    assert body["tags"] == ["b", "c"] and body["shared"] is True and body["note"] == "n"
    tags = await get_internal_db(ds).execute(f"select tag from {TAGS} order by tag")
    assert [r["tag"] for r in tags] == ["b", "c"]
    assert (await ds.client.post(url, cookies=alice, json={"owner_id": "bob"})).status_code == 400
    assert (await ds.client.delete(url, cookies=alice)).json()["ok"] is True
    assert (await ds.client.get(url, cookies=alice)).status_code == 404
    assert events.names() == ["bookmark-created", "bookmark-deleted"]


async def test_tag_filter_and_full_text_search(ds, alice):
    await bookmark(ds, alice, url="/data/places?country=fr", title="French cities", tags=["eu"])
    await bookmark(
        ds,
        alice,
        url="/data/places?country=it",
        title="Italy",
        note="pasta and rome",
        tags=["eu", "food"],
    )
    await bookmark(ds, alice, url="/data/secret", title="Codes")
    by_tag = [b["title"] for b in (await listed(ds, alice, "?tag=food"))["bookmarks"]]
    assert by_tag == ["Italy"]
    by_tag = [b["title"] for b in (await listed(ds, alice, "?tag=EU"))["bookmarks"]]
    assert by_tag == ["Italy", "French cities"]
    found = [b["title"] for b in (await listed(ds, alice, "?q=pasta"))["bookmarks"]]
    assert found == ["Italy"]
    found = [b["title"] for b in (await listed(ds, alice, "?q=french&tag=eu"))["bookmarks"]]
    assert found == ["French cities"]
    # FTS syntax in the query is quoted, not an error.
    for query in ('?q=" OR (NEAR', "?q=%00", "?q=a%01b", "?tag=%00", "?q=*&tag=-"):
        weird = await ds.client.get(API + query, cookies=alice)
        assert weird.status_code == 200, query
        assert (await ds.client.get("/-/bookmarks" + query, cookies=alice)).status_code == 200
    page = await ds.client.get("/-/bookmarks?tag=food", cookies=alice)
    assert "Italy" in page.text and "French cities" not in page.text


async def test_keyset_pagination(ds, alice):
    for number in range(7):
        await bookmark(ds, alice, url=f"/data/places?id={number}", title=f"b{number}")
    seen, query = [], "?_size=3"
    while True:
        page = await listed(ds, alice, query)
        seen += [b["title"] for b in page["bookmarks"]]
        if page["next"] is None:
            break
        query = page["next_url"].removeprefix(API)
        assert query == f"?_size=3&_next={page['next']}"
    assert seen == [f"b{n}" for n in range(6, -1, -1)]


async def test_pagination_skips_shared_bookmarks_the_viewer_may_not_see(ds, alice, bob):
    for number in range(3):
        await bookmark(ds, alice, url=f"/data/secret?id={number}", shared=True)
    await bookmark(ds, alice, url="/data/places", title="visible", shared=True)
    for number in range(3):
        await bookmark(ds, alice, url=f"/data/secret?x={number}", shared=True)
    page = await listed(ds, bob, "?_size=2")
    assert [b["title"] for b in page["bookmarks"]] == ["visible"]


BAD_BOOKMARKS = [
    {},
    {"url": "//evil.example"},
    {"url": "https://evil.example/"},
    {"url": "javascript:alert(1)"},
    {"url": "/data", "tags": "x" * 60},
    {"url": "/data", "tags": [1, 2]},
    {"url": "/data", "tags": [f"t{n}" for n in range(30)]},
    {"url": "/data", "title": "t" * 301},
    {"url": "/data", "note": 5},
    {"url": "/data", "shared": "maybe"},
]


async def test_bad_bookmark_input_is_a_400(ds, alice):
    for data in BAD_BOOKMARKS:
        response = await ds.client.post(API, json=data, cookies=alice)
        assert response.status_code == 400, data
        assert response.json()["ok"] is False
    count = await get_internal_db(ds).execute(f"select count(*) from {BOOKMARKS}")
    assert count.single_value() == 0


async def test_bad_listing_arguments_are_400(ds, alice):
    for query in (
        "?_size=0",
        "?_size=abc",
        "?_next=x",
        "?_next=1,2",
        "?scope=everything",
        "?_size=1000",
        "?_next=99999999999999999999999",
        "?_next=-1",
    ):
        response = await ds.client.get(API + query, cookies=alice)
        assert response.status_code == 400, query
        assert response.json()["ok"] is False


async def test_anonymous_cannot_bookmark(ds):
    response = await ds.client.post(API, json={"url": "/data"})
    assert response.status_code == 403
    assert response.json()["ok"] is False


async def test_note_and_title_are_sanitized(ds, alice):
    saved = await bookmark(
        ds,
        alice,
        url="/data/places",
        title="<img src=x onerror=alert(1)>",
        note="<script>alert(1)</script>\n\n[click](javascript:alert(2)) <b onclick=x>b</b>",
        tags=["<svg onload=alert(3)>"],
    )
    assert "<script" not in saved["note_html"]
    assert 'href="javascript:' not in saved["note_html"]
    assert "<b onclick" not in saved["note_html"]
    page = await ds.client.get("/-/bookmarks", cookies=alice)
    assert "<img src=x" not in page.text and "&lt;img src=x" in page.text
    assert "<svg onload" not in page.text


class AttributeNames(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.names = set()

    def handle_starttag(self, tag, attrs):
        self.names.update(name for name, _ in attrs)


ATTRIBUTE_BREAKERS = [
    'x" autofocus onfocus="window.__xss=1',
    "XSS18 x autofocus onfocus=window.__xss=18 y",
    "x' onmouseover='window.__xss=2",
]


@pytest.mark.parametrize("title", ATTRIBUTE_BREAKERS)
async def test_titles_never_become_attributes(ds, alice, title):
    # Titles appear inside attributes (aria-label, data-*): they must stay inside their quotes.
    await bookmark(ds, alice, url="/data/places", title=title)
    await ds.client.post("/-/l/api/links", json={"target": "/data", "title": title}, cookies=alice)
    for path in ("/-/bookmarks", "/-/links"):
        parser = AttributeNames()
        parser.feed((await ds.client.get(path, cookies=alice)).text)
        assert not {name for name in parser.names if name.startswith("on")}, path


async def test_export_and_import_round_trip(ds, alice, bob, events):
    await bookmark(ds, alice, url="/data/places?country=fr", title="FR", tags=["eu"], note="n")
    await bookmark(ds, alice, url="/data/places/1", title="Paris row", shared=True)
    export = (await ds.client.get("/-/bookmarks/api/export", cookies=alice)).json()
    assert [b["title"] for b in export["bookmarks"]] == ["FR", "Paris row"]
    imported = await ds.client.post("/-/bookmarks/api/import", cookies=bob, json=export)
    assert imported.json() == {"ok": True, "imported": 2, "created": 2}
    bob_has = (await listed(ds, bob, "?scope=mine"))["bookmarks"]
    assert sorted(b["title"] for b in bob_has) == ["FR", "Paris row"]
    again = await ds.client.post("/-/bookmarks/api/import", cookies=bob, json=export)
    assert again.json()["created"] == 0
    assert events.names() == ["bookmark-created"] * 4


async def test_import_is_all_or_nothing(ds, alice):
    data = {"bookmarks": [{"url": "/data/places"}, {"url": "//evil.example"}]}
    response = await ds.client.post("/-/bookmarks/api/import", cookies=alice, json=data)
    assert response.status_code == 400
    assert "bookmarks[1]" in response.json()["errors"][0]
    count = await get_internal_db(ds).execute(f"select count(*) from {BOOKMARKS}")
    assert count.single_value() == 0
    for bad in ({"bookmarks": "x"}, {"bookmarks": [5]}, {}):
        response = await ds.client.post("/-/bookmarks/api/import", cookies=alice, json=bad)
        assert response.status_code == 400


async def test_netscape_export(ds, alice):
    await bookmark(
        ds, alice, url="/data/places?country=fr", title='A "quoted" <title>', tags=["eu", "x"]
    )
    response = await ds.client.get("/-/bookmarks/export.html", cookies=alice)
    assert response.status_code == 200
    text = response.text
    assert text.startswith("<!DOCTYPE NETSCAPE-Bookmark-file-1>")
    assert 'HREF="http://localhost/data/places?country=fr"' in text
    assert 'TAGS="eu,x"' in text and 'PRIVATE="1"' in text
    assert "A &quot;quoted&quot; &lt;title&gt;" in text
    assert (await ds.client.get("/-/bookmarks/export.html")).status_code == 403


async def test_link_rot_scan_flags_missing_targets(ds, alice, data_db):
    await bookmark(ds, alice, url="/data/places/1", title="Paris")
    await bookmark(ds, alice, url="/data/places/2", title="Lyon")
    await bookmark(ds, alice, url="/data/places", title="Places")
    await bookmark(ds, alice, url="/data/gone_table", title="Gone table")
    await bookmark(ds, alice, url="/nodb/t", title="Gone database")
    data = ds.get_database("data")
    await data.execute_write("create view fr_places as select * from places where country = 'fr'")
    await bookmark(ds, alice, url="/data/fr_places", title="A view")
    await data.execute_write("delete from places where id = 2")
    response = await ds.client.post("/-/bookmarks/api/scan", cookies=alice)
    assert response.status_code == 202
    job_id = response.json()["job_id"]
    await jobs.wait(job_id)
    job = (await ds.client.get(f"/-/internal/jobs/{job_id}.json", cookies=alice)).json()["job"]
    assert job["status"] == "done" and job["done"] == job["total"] == 6
    assert job["error_count"] == 0
    flags = {b["title"]: b["broken"] for b in (await listed(ds, alice))["bookmarks"]}
    assert flags["Paris"] is None and flags["Places"] is None and flags["A view"] is None
    assert "row 2" in flags["Lyon"]
    assert "table gone_table" in flags["Gone table"]
    assert "database nodb" in flags["Gone database"]
    page = await ds.client.get("/-/bookmarks", cookies=alice)
    assert "Broken: row 2 no longer exists" in page.text


async def test_scan_button_starts_a_job_and_shows_progress(ds, alice):
    await bookmark(ds, alice, url="/data/places")
    response = await ds.client.post("/-/bookmarks/scan", cookies=alice)
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith("/-/bookmarks?job=")
    await jobs.wait(location.split("=")[1])
    page = await ds.client.get(location, cookies=alice)
    assert "datasette-internal-job" in page.text
    assert (await ds.client.post("/-/bookmarks/scan")).status_code == 403


async def test_action_menus_offer_bookmark_this(ds, alice):
    pages = ("/data/places?country=fr", "/data/places/1", "/data", "/data/-/query?sql=select+1")
    for path in pages:
        page = await ds.client.get(path, cookies=alice)
        assert "Bookmark this page" in page.text, path
        assert "Copy short link" in page.text, path
    anonymous = await ds.client.get("/data/places")
    assert "Bookmark this page" not in anonymous.text


async def test_action_menus_ask_the_permission_once_a_second_not_per_page(ds, alice, frozen_time):
    """Issue 17: the action menus are drawn on pages the plugin does not own; their answers
    come from core's recent_answers, so a second page asks nothing (Datasette's check log)."""
    ours = (BOOKMARKS_CREATE, SHORT_LINKS_CREATE)

    def asked():
        return [check.action for check in ds._permission_checks if check.action in ours]

    ds._permission_checks.clear()
    for _ in range(2):
        page = await ds.client.get("/data/places", cookies=alice)
        assert "Bookmark this page" in page.text and "Copy short link" in page.text
    assert sorted(asked()) == sorted(ours)
    frozen_time.advance(2)
    await ds.client.get("/data/places", cookies=alice)
    assert len(asked()) == 2 * len(ours)


async def test_action_menus_ask_both_actions_as_one_question(ds, alice, monkeypatch):
    """One permission query for the two menu items of a page, not one each."""
    asked = []
    allowed_many = ds.allowed_many

    async def counting(*, actions, **kwargs):
        ours = sorted(set(actions) & {BOOKMARKS_CREATE, SHORT_LINKS_CREATE})
        if ours:
            asked.append(ours)
        return await allowed_many(actions=actions, **kwargs)

    monkeypatch.setattr(ds, "allowed_many", counting)
    page = await ds.client.get("/data/places", cookies=alice)
    assert "Bookmark this page" in page.text and "Copy short link" in page.text
    assert asked == [sorted([BOOKMARKS_CREATE, SHORT_LINKS_CREATE])]


async def test_new_page_form_saves_and_prefills(ds, alice):
    form = await ds.client.get(
        "/-/bookmarks/new?url=%2Fdata%2Fplaces%3Fcountry%3Dfr&title=places", cookies=alice
    )
    assert form.status_code == 200 and 'value="places"' in form.text
    saved = await ds.client.post(
        "/-/bookmarks/new",
        cookies=alice,
        content=b"url=%2Fdata%2Fplaces%3Fcountry%3Dfr&title=FR&tags=eu%2C+trips&note=hi&shared=1",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert saved.status_code == 302
    listing = await ds.client.get(saved.headers["location"], cookies={**alice, **saved.cookies})
    assert "Bookmark saved" in listing.text
    again = await ds.client.get(
        "/-/bookmarks/new?url=%2Fdata%2Fplaces%3Fcountry%3Dfr", cookies=alice
    )
    assert 'value="FR"' in again.text and 'value="eu, trips"' in again.text
    bad = await ds.client.post(
        "/-/bookmarks/new",
        cookies=alice,
        content=b"url=%2F%2Fevil.example",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert bad.status_code == 400


async def test_cross_site_bookmark_post_is_refused(ds, alice):
    response = await ds.client.post(
        API, json={"url": "/data"}, cookies=alice, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert response.status_code == 403
    count = await get_internal_db(ds).execute(f"select count(*) from {BOOKMARKS}")
    assert count.single_value() == 0


async def test_tag_counts_follow_every_change(ds, alice, bob):
    first = await bookmark(ds, alice, url="/data/places?a=1", tags=["eu", "food"])
    await bookmark(ds, alice, url="/data/places?a=2", tags=["eu"])
    await bookmark(ds, bob, url="/data/places?a=3", tags=["eu"])
    assert await store_bookmarks.owner_tags(ds, "alice") == [
        {"tag": "eu", "count": 2},
        {"tag": "food", "count": 1},
    ]
    await ds.client.post(f"{API}/{first['id']}", cookies=alice, json={"tags": ["food", "x"]})
    assert await store_bookmarks.owner_tags(ds, "alice") == [
        {"tag": "eu", "count": 1},
        {"tag": "food", "count": 1},
        {"tag": "x", "count": 1},
    ]
    await ds.client.delete(f"{API}/{first['id']}", cookies=alice)
    assert await store_bookmarks.owner_tags(ds, "alice") == [{"tag": "eu", "count": 1}]
    assert await store_bookmarks.owner_tags(ds, "bob") == [{"tag": "eu", "count": 1}]


async def test_an_actor_without_id_counts_as_signed_out(ds):
    nameless = {"ds_actor": ds.client.actor_cookie({"name": "no id"})}
    requests = [
        ("post", API, {"url": "/data"}),
        ("post", "/-/l/api/links", {"target": "/data"}),
        ("post", "/-/bookmarks/api/scan", None),
        ("post", "/-/bookmarks/api/import", {"bookmarks": []}),
        ("get", "/-/bookmarks/api/export", None),
    ]
    for method, path, body in requests:
        kwargs = {"json": body} if body is not None else {}
        response = await getattr(ds.client, method)(path, cookies=nameless, **kwargs)
        assert response.status_code == 403, path
        assert response.json()["ok"] is False


async def test_list_page_items_are_remembered_but_never_stale(ds, alice, bob, monkeypatch):
    saved = await bookmark(ds, alice, url="/data/places", title="Before", tags=["old"], note="x")
    renders = []
    original = fragments.Fragments.render

    def counting_render(self, template, name, items, context):
        renders.append(
            len(
                [
                    i
                    for i in items
                    if (template, repr(sorted(context.items())), repr(i)) not in self.rendered
                ]
            )
        )
        return original(self, template, name, items, context)

    monkeypatch.setattr(fragments.Fragments, "render", counting_render)
    assert "Before" in (await ds.client.get("/-/bookmarks", cookies=alice)).text
    assert "Before" in (await ds.client.get("/-/bookmarks", cookies=alice)).text
    assert renders == [1, 0]
    changed = {"title": "After", "note": "**new note**", "tags": ["fresh"], "shared": True}
    response = await ds.client.post(f"{API}/{saved['id']}", cookies=alice, json=changed)
    assert response.status_code == 200
    page = (await ds.client.get("/-/bookmarks", cookies=alice)).text
    assert "After" in page and "Before" not in page
    assert "<strong>new note</strong>" in page and "?tag=fresh" in page and "?tag=old" not in page
    assert "· shared" in page and "Delete" in page
    # The same bookmark seen by someone else is another fragment: no edit or delete controls.
    other = (await ds.client.get("/-/bookmarks", cookies=bob)).text
    assert "After" in other and "by alice" in other and "bookmark-delete" not in other
    assert renders == [1, 0, 1, 1]


def spy_on_read_threads(internal, monkeypatch):
    """What the internal DB's read threads are asked: each SQL text, each function's name."""
    asked = []
    execute, execute_fn = internal.execute, internal.execute_fn

    async def spied_execute(sql, *args, **kwargs):
        asked.append(sql)
        return await execute(sql, *args, **kwargs)

    async def spied_execute_fn(fn, *args, **kwargs):
        asked.append(fn.__qualname__)
        return await execute_fn(fn, *args, **kwargs)

    monkeypatch.setattr(internal, "execute", spied_execute)
    monkeypatch.setattr(internal, "execute_fn", spied_execute_fn)
    return asked


def plugin_reads(asked):
    return [a for a in asked if "bookmarks" in a or a.startswith(("list_bookmarks", "owner_tags"))]


async def test_list_page_reads_its_rows_and_tags_on_the_event_loop(ds, alice, monkeypatch):
    await bookmark(ds, alice, url="/data/places", title="Places", tags=["travel"])
    asked = spy_on_read_threads(get_internal_db(ds), monkeypatch)
    page = (await ds.client.get("/-/bookmarks", cookies=alice)).text
    assert "Places" in page and "travel</a> (1)" in page
    assert plugin_reads(asked) == []


async def test_list_read_too_long_for_the_loop_is_made_by_a_read_thread(ds, alice, monkeypatch):
    await bookmark(ds, alice, url="/data/places", title="Places", tags=["travel"])
    monkeypatch.setattr(loop_reads, "LOOP_READ_SECONDS", -1)  # every loop read is over its budget
    monkeypatch.setattr(loop_reads, "LOOP_READ_STEPS", 1)
    asked = spy_on_read_threads(get_internal_db(ds), monkeypatch)
    page = (await ds.client.get("/-/bookmarks", cookies=alice)).text
    assert "Places" in page and "travel</a> (1)" in page
    assert sorted(plugin_reads(asked)) == [
        "list_bookmarks.<locals>.<lambda>",
        "owner_tags.<locals>.<lambda>",
    ]
    # The interrupted loop read left nothing behind: the next one (in budget) sees new rows.
    monkeypatch.setattr(loop_reads, "LOOP_READ_SECONDS", 0.002)
    await bookmark(ds, alice, url="/data", title="Freshly added")
    assert "Freshly added" in (await ds.client.get("/-/bookmarks", cookies=alice)).text


async def test_list_asks_once_per_table_not_once_per_shared_row(ds, alice, bob, monkeypatch):
    for row in (1, 2, 3):
        await bookmark(ds, alice, url=f"/data/places/{row}", title=f"Place {row}", shared=True)
    await bookmark(ds, alice, url="/data/secret/1", title="Hidden code", shared=True)
    asked = []
    original = api_bookmarks.may_view_recently

    async def counting(datasette, actor, target):
        asked.append((target.kind, target.database, target.name))
        return await original(datasette, actor, target)

    monkeypatch.setattr(api_bookmarks, "may_view_recently", counting)
    page = (await ds.client.get("/-/bookmarks", cookies=bob)).text
    titles = [f"Place {row}" for row in (1, 2, 3)]
    assert all(title in page for title in titles) and "Hidden code" not in page
    assert sorted(asked) == [("row", "data", "places"), ("row", "data", "secret")]


async def test_pages_have_real_breadcrumbs(ds, alice):
    saved = await bookmark(ds, alice, url="/data/places", title="Places")
    crumbs = {
        "/-/bookmarks": '<a href="/">home</a> / <span aria-current="page">Bookmarks</span>',
        "/-/bookmarks/new?url=/data": '<a href="/-/bookmarks">Bookmarks</a>'
        ' / <span aria-current="page">Bookmark a page</span>',
        f"/-/bookmarks/{saved['id']}/edit": '<a href="/-/bookmarks">Bookmarks</a>'
        ' / <span aria-current="page">Edit bookmark</span>',
    }
    for path, expected in crumbs.items():
        page = await ds.client.get(path, cookies=alice)
        assert page.status_code == 200, path
        assert expected in page.text, path


TRACKING_NOTE = (
    "Seen *here* ![x](http://example.invalid/x.png)\n\n"
    '<img src="http://example.invalid/y.png"> [a link](/data/places)'
)


async def test_a_shared_note_shows_no_image_to_anyone(ds, alice, bob):
    # A remote image in a note shared with others would tell its host who read it and when.
    saved = await bookmark(ds, alice, url="/data/places", note=TRACKING_NOTE, shared=True)
    assert "<img" not in saved["note_html"]
    assert "<em>here</em>" in saved["note_html"]
    assert 'rel="nofollow noopener"' in saved["note_html"]
    for cookies in (alice, bob, None):
        shown = (await ds.client.get(f"{API}/{saved['id']}", cookies=cookies)).json()
        assert "<img" not in shown["bookmark"]["note_html"]
        notes = [b["note_html"] for b in (await listed(ds, cookies))["bookmarks"]]
        assert notes == [saved["note_html"]]
        page = (await ds.client.get("/-/bookmarks", cookies=cookies)).text
        assert "<em>here</em>" in page
        assert "<img" not in page and "example.invalid/x.png" not in page


async def test_notes_rendered_by_an_older_policy_are_rendered_again_when_read(ds, alice, bob):
    saved = await bookmark(ds, alice, url="/data/places", note=TRACKING_NOTE, shared=True)
    await get_internal_db(ds).execute_write(
        f"update {BOOKMARKS} set note_html = ?, markdown_version = 1 where id = ?",
        ['<p><img src="http://example.invalid/x.png"></p>', saved["id"]],
    )
    shown = (await ds.client.get(f"{API}/{saved['id']}", cookies=bob)).json()["bookmark"]
    assert shown["note_html"] == saved["note_html"]
    page = (await ds.client.get("/-/bookmarks", cookies=bob)).text
    assert "<img" not in page and saved["note_html"] in page


def test_the_migration_renders_existing_notes_with_core_policy(tmp_path):
    db = sqlite_utils.Database(tmp_path / "internal.db")
    migrations.apply(db, stop_before="m006_note_markdown_version")
    db[BOOKMARKS].insert(
        {
            "owner_id": "alice",
            "url": "/data",
            "title": "t",
            "note": TRACKING_NOTE,
            "note_html": '<p><img src="http://example.invalid/x.png"></p>',
            "resource_kind": "database",
            "created_at": "2026-01-01",
            "updated_at": "2026-01-01",
        }
    )
    migrations.apply(db)
    row = next(db.query(f"select note_html, markdown_version from {BOOKMARKS}"))
    assert row == {
        "note_html": render_markdown(TRACKING_NOTE),
        "markdown_version": MARKDOWN_VERSION,
    }
    assert "<img" not in row["note_html"]


async def test_a_bookmark_is_edited_in_every_field_on_its_page(ds, alice, bob):
    saved = await bookmark(ds, alice, url="/data/places/99", title="Gone", tags=["a"])
    await get_internal_db(ds).execute_write(
        f"update {BOOKMARKS} set broken = 'row 99 no longer exists' where id = ?", [saved["id"]]
    )
    page = await ds.client.get(f"/-/bookmarks/{saved['id']}/edit", cookies=alice)
    assert page.status_code == 200
    assert 'value="/data/places/99"' in page.text and 'value="a"' in page.text
    form = {"url": "/data/places/2", "title": "Lyon", "note": "n", "tags": "b, c"}
    changed = await ds.client.post(
        f"/-/bookmarks/{saved['id']}/edit",
        cookies=alice,
        content=urllib.parse.urlencode(form).encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert changed.status_code == 302
    shown = (await ds.client.get(f"{API}/{saved['id']}", cookies=alice)).json()["bookmark"]
    assert (shown["path"], shown["title"], shown["tags"]) == ("/data/places/2", "Lyon", ["b", "c"])
    assert shown["shared"] is False and shown["broken"] is None and shown["kind"] == "row"
    # Another of alice's bookmarks may not take the same URL; others may not edit at all.
    other = await bookmark(ds, alice, url="/data/places/3")
    clash = await ds.client.post(
        f"{API}/{other['id']}", cookies=alice, json={"url": "/data/places/2"}
    )
    assert clash.status_code == 400
    assert "already have a bookmark" in clash.json()["errors"][0]
    edit = f"/-/bookmarks/{saved['id']}/edit"
    for response in (
        await ds.client.get(edit, cookies=bob),
        await ds.client.post(
            edit,
            cookies=bob,
            content=b"title=mine",
            headers={"content-type": "application/x-www-form-urlencoded"},
        ),
    ):
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")


async def test_the_scan_returns_the_broken_bookmarks_with_links_to_fix_them(ds, alice):
    await bookmark(ds, alice, url="/data/places/1", title="Paris")
    gone = await bookmark(ds, alice, url="/data/places/99", title="Row 99")
    response = await ds.client.post("/-/bookmarks/api/scan", cookies=alice)
    body = response.json()
    assert body["job_page"] == f"/-/internal/jobs/{body['job_id']}"
    await jobs.wait(body["job_id"])
    job = (await ds.client.get(body["job_url"], cookies=alice)).json()["job"]
    assert job["result"] == {
        "summary": "1 of 2 bookmarks broken",
        "items": [
            {
                "label": "Row 99",
                "href": f"/-/bookmarks/{gone['id']}/edit",
                "detail": "row 99 no longer exists in places — edit or delete it",
            }
        ],
    }
    page = await ds.client.get(body["job_page"], cookies=alice)
    assert f'<a href="/-/bookmarks/{gone["id"]}/edit">Row 99</a>' in page.text
    listing = await ds.client.get(f"/-/bookmarks?job={body['job_id']}", cookies=alice)
    assert (
        f'href="/-/internal/jobs/{body["job_id"]}">See which bookmarks are broken' in listing.text
    )


async def test_browsers_get_html_errors_and_api_clients_json(ds, bob):
    for path in ("/-/links", "/-/bookmarks/new?url=/data"):
        page = await ds.client.get(path)
        assert page.status_code == 403
        assert page.headers["content-type"].startswith("text/html")
        assert "Sign in" in page.text
    api = await ds.client.get("/-/l/api/links")
    assert api.status_code == 403 and api.json()["ok"] is False
    wrong_method = await ds.client.get("/-/bookmarks/scan", cookies=bob)
    assert wrong_method.status_code == 405 and wrong_method.headers["allow"] == "POST"


async def test_others_cannot_change_or_delete_a_shared_bookmark(ds, alice, bob):
    # README, Permissions: "Changing or deleting a bookmark is for its owner only (404 for
    # anybody else)". A shared bookmark is the one others may read, so each write route must
    # tell reading from changing.
    saved = await bookmark(ds, alice, url="/data/places", title="Shared", tags=["a"], shared=True)
    url = f"{API}/{saved['id']}"
    assert (await ds.client.get(url, cookies=bob)).status_code == 200
    form = {"content-type": "application/x-www-form-urlencoded"}
    attempts = [
        await ds.client.delete(url, cookies=bob),
        await ds.client.post(url, cookies=bob, json={"title": "taken over"}),
        await ds.client.post(f"/-/bookmarks/{saved['id']}/delete", cookies=bob),
        await ds.client.get(f"/-/bookmarks/{saved['id']}/edit", cookies=bob),
        await ds.client.post(
            f"/-/bookmarks/{saved['id']}/edit",
            cookies=bob,
            content=b"url=%2Fdata&title=taken+over",
            headers=form,
        ),
    ]
    assert [response.status_code for response in attempts] == [404] * len(attempts)
    unchanged = (await ds.client.get(url, cookies=alice)).json()["bookmark"]
    assert {key: unchanged[key] for key in saved} == saved


async def test_the_scan_does_not_look_up_rows_the_actor_may_not_view(ds, alice, bob):
    # README, Link rot: "you lost view permission on the target → you may no longer view this
    # page (the row is then not looked up, so the scan cannot be used to probe data ...)".
    # Only alice and root may view the secret table (conftest); its row 1 exists, row 99 not.
    for cookies in (alice, bob):
        await bookmark(ds, cookies, url="/data/secret/1", title="Row 1")
        await bookmark(ds, cookies, url="/data/secret/99", title="Row 99")
    reasons, details = {}, {}
    for name, cookies in (("alice", alice), ("bob", bob)):
        body = (await ds.client.post("/-/bookmarks/api/scan", cookies=cookies)).json()
        await jobs.wait(body["job_id"])
        job = (await ds.client.get(body["job_url"], cookies=cookies)).json()["job"]
        assert job["status"] == "done"
        details[name] = sorted(item["detail"] for item in job["result"]["items"])
        flags = (await listed(ds, cookies, "?scope=mine"))["bookmarks"]
        reasons[name] = {b["title"]: b["broken"] for b in flags}
    assert reasons["alice"] == {"Row 1": None, "Row 99": "row 99 no longer exists in secret"}
    # The same two bookmarks for bob: one answer for both, whether the row exists or not.
    refused = "you may no longer view this page"
    assert reasons["bob"] == {"Row 1": refused, "Row 99": refused}
    assert details["bob"] == [f"{refused} — edit or delete it"] * 2


async def test_saving_again_clears_the_broken_flag_other_changes_keep_it(ds, alice):
    # README, Link rot: "Saving a bookmark again, or changing its URL, clears its flag."
    saved = await bookmark(ds, alice, url="/data/places/2", title="Lyon")
    await get_internal_db(ds).execute_write(
        f"update {BOOKMARKS} set broken = 'row 2 no longer exists in places' where id = ?",
        [saved["id"]],
    )
    url = f"{API}/{saved['id']}"
    retitled = await ds.client.post(url, cookies=alice, json={"title": "Lyon again"})
    assert retitled.json()["bookmark"]["broken"] == "row 2 no longer exists in places"
    again = await ds.client.post(API, cookies=alice, json={"url": "/data/places/2/"})
    assert again.status_code == 200 and again.json()["created"] is False
    assert again.json()["bookmark"]["id"] == saved["id"]
    assert again.json()["bookmark"]["broken"] is None
    assert (await ds.client.get(url, cookies=alice)).json()["bookmark"]["broken"] is None


async def test_field_limits_hold_at_their_bounds(ds, alice):
    # README, JSON API: "title (≤ 300 chars ...)", "note (Markdown, ≤ 10,000 chars)"; Using it:
    # "Tags ... at most 20 of at most 50 characters".
    longest = {
        "url": "/data/places",
        "title": "t" * 300,
        "note": "n" * 10_000,
        "tags": [f"{n:02d}" + "x" * 48 for n in range(20)],
    }
    saved = await bookmark(ds, alice, **longest)
    assert (len(saved["title"]), len(saved["note"])) == (300, 10_000)
    assert saved["tags"] == longest["tags"]
    over = [
        {"title": "t" * 301},
        {"note": "n" * 10_001},
        {"tags": longest["tags"] + ["one-more"]},
        {"tags": ["x" * 51]},
    ]
    for change in over:
        response = await ds.client.post(API, cookies=alice, json={**longest, **change})
        assert response.status_code == 400, list(change)
        assert response.json()["ok"] is False
    stored = (await ds.client.get(f"{API}/{saved['id']}", cookies=alice)).json()["bookmark"]
    assert stored["note"] == longest["note"] and stored["tags"] == longest["tags"]


async def test_an_import_of_more_than_5000_bookmarks_is_refused(ds, alice):
    # README, JSON API: "POST /-/bookmarks/api/import | body = an export (≤ 5,000)".
    export = {"bookmarks": [{"url": f"/data/places?id={n}"} for n in range(5_001)]}
    response = await ds.client.post("/-/bookmarks/api/import", cookies=alice, json=export)
    assert response.status_code == 400
    assert response.json()["ok"] is False and "5000" in response.json()["errors"][0]
    count = await get_internal_db(ds).execute(f"select count(*) from {BOOKMARKS}")
    assert count.single_value() == 0


async def test_search_covers_tags_and_url_and_follows_edits(ds, alice):
    # README, JSON API: "q is full-text search (FTS5) over title, note, tags and URL"; Tables:
    # the FTS table is "kept by triggers", so an edited or deleted bookmark is found as it is now.
    saved = await bookmark(
        ds, alice, url="/data/places?country=fr", title="Aubergine", tags=["zucchini"]
    )
    await bookmark(ds, alice, url="/data/secret", title="Other")

    async def found(words):
        query = "?" + urllib.parse.urlencode({"q": words})
        return [b["id"] for b in (await listed(ds, alice, query))["bookmarks"]]

    assert await found("zucchini") == [saved["id"]]
    assert await found("places") == [saved["id"]]
    assert await found("aubergine") == [saved["id"]]
    changed = {"title": "Courgette", "tags": ["squash"], "url": "/data/places?country=it"}
    await ds.client.post(f"{API}/{saved['id']}", cookies=alice, json=changed)
    for stale in ("aubergine", "zucchini", "fr"):
        assert await found(stale) == [], stale
    for fresh in ("courgette", "squash", "it"):
        assert await found(fresh) == [saved["id"]], fresh
    await ds.client.delete(f"{API}/{saved['id']}", cookies=alice)
    assert await found("courgette") == []
