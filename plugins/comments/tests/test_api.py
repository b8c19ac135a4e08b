import copy
import json
import re
import sqlite3

import pytest
from datasette.events import Event
from datasette_internal_comments import store
from datasette_internal_comments.rendering import MAX_BODY_CHARS
from datasette_internal_db import audit, get_internal_db
from datasette_internal_db.answers import ANSWER_SECONDS
from datasette_internal_db.testing import cookies_for

from .conftest import CONFIG, Client


async def count(ds, table):
    rows = await get_internal_db(ds).execute(f"select count(*) from {table}")
    return rows.first()[0]


async def test_tables_are_created_with_the_plugin_prefix(ds):
    names = await get_internal_db(ds).table_names()
    ours = [name for name in names if name.startswith("datasette_internal_comments_")]
    assert {
        store.THREADS,
        store.COMMENTS,
        store.REVISIONS,
        store.REACTIONS,
        store.MENTIONS,
        store.INBOX,
        store.FTS,
    } <= set(ours)


@pytest.mark.parametrize(
    "target,expected_type,row",
    [
        ({}, "database", None),
        ({"table": "items"}, "table", None),
        ({"table": "items", "column": "name"}, "column", None),
        ({"table": "items", "row": ["2"]}, "row", "2"),
        ({"table": "items", "row": "2"}, "row", "2"),
        ({"table": "items", "row": [2], "column": "price"}, "cell", "2"),
        ({"table": "notes", "row": ["2"]}, "row", "2"),
        ({"table": "pairs", "row": ["x/y", "z,w"]}, "row", "x~2Fy,z~2Cw"),
        ({"table": "ITEMS", "row": ["1"]}, "row", "1"),
        ({"table": 'odd"table]', "row": ["1"], "column": "v al"}, "cell", "1"),
    ],
)
async def test_threads_on_every_target_type(as_actor, target, expected_type, row):
    alice = as_actor("alice")
    thread = await alice.new_thread("First!", **target)
    assert thread["target"]["type"] == expected_type
    assert thread["target"]["row"] == row
    assert thread["comments"][0]["body"] == "First!"
    query = {"database": "data", "table": thread["target"]["table"] or "", "row": row or ""}
    if "column" in target:
        query["column"] = target["column"]
    listed = await alice.get("/-/comments/api/threads", params=query)
    assert [t["id"] for t in listed.json()["threads"]] == [thread["id"]]


async def test_row_label_and_several_threads_per_row(as_actor):
    alice = as_actor("alice")
    first = await alice.new_thread("one", table="items", row=["1"])
    second = await alice.new_thread("two", table="items", row=["1"], column="price")
    third = await alice.new_thread("three", table="items", row=["1"], column="name")
    table = await alice.new_thread("table", table="items")
    column = await alice.new_thread("column", table="items", column="price")
    assert first["target"]["label"] == "apple"

    async def listed(query):
        response = await alice.get("/-/comments/api/threads?database=data&" + query)
        return [t["id"] for t in response.json()["threads"]]

    assert await listed("table=items&row=1") == [first["id"], second["id"], third["id"]]
    assert await listed("table=items&row=1&column=price") == [second["id"]]
    assert await listed("table=items") == [table["id"], column["id"]]
    assert await listed("table=items&column=price") == [column["id"]]
    assert await listed("") == []


async def test_reply_mentions_and_inbox(as_actor):
    alice, bob, carol = as_actor("alice"), as_actor("bob"), as_actor("carol")
    thread = await alice.new_thread("Look at this @bob", table="items", row=["1"])
    inbox = (await bob.get("/-/comments/api/inbox")).json()
    assert inbox["unread_count"] == 1
    assert inbox["entries"][0]["reason"] == "mention"
    await bob.reply(thread["id"], "Seen it")
    await carol.reply(thread["id"], "Me too, @alice")
    alice_inbox = (await alice.get("/-/comments/api/inbox")).json()
    assert [(e["author"]["id"], e["reason"]) for e in alice_inbox["entries"]] == [
        ("carol", "mention"),
        ("bob", "reply"),
    ]
    assert alice_inbox["unread_count"] == 2
    assert (await bob.get("/-/comments/api/inbox")).json()["unread_count"] == 2
    marked = await alice.post(
        "/-/comments/api/inbox/read", {"ids": [alice_inbox["entries"][1]["inbox_id"]]}
    )
    assert marked.json()["unread_count"] == 1
    unread = (await alice.get("/-/comments/api/inbox?unread=1")).json()
    assert [e["author"]["id"] for e in unread["entries"]] == ["carol"]
    await alice.post("/-/comments/api/inbox/read", {"all": True})
    assert (await alice.get("/-/comments/api/inbox")).json()["unread_count"] == 0
    # bob's entries are untouched by alice marking hers
    assert (await bob.get("/-/comments/api/inbox")).json()["unread_count"] == 2


async def test_edit_keeps_revision_history(as_actor):
    alice, bob = as_actor("alice"), as_actor("bob")
    thread = await alice.new_thread("Version one", table="items")
    comment_id = thread["comments"][0]["id"]
    edited = await alice.post(
        f"/-/comments/api/comments/{comment_id}/edit", {"body": "Version two"}
    )
    assert edited.status_code == 200
    edited = await alice.post(f"/-/comments/api/comments/{comment_id}/edit", {"body": "Version 3"})
    comment = edited.json()["thread"]["comments"][0]
    assert comment["body"] == "Version 3"
    assert comment["edited_at"] and comment["revision_count"] == 2
    history = (await bob.get(f"/-/comments/api/comments/{comment_id}/revisions")).json()
    assert [r["body"] for r in history["revisions"]] == ["Version one", "Version two"]
    page = await bob.get(f"/-/comments/threads/{thread['id']}")
    assert "Version one" in page.text and "Version 3" in page.text
    # bob may not edit alice's comment
    refused = await bob.post(f"/-/comments/api/comments/{comment_id}/edit", {"body": "Hijacked"})
    assert refused.status_code == 403
    assert refused.json()["ok"] is False
    assert "Hijacked" not in json.dumps(
        (await bob.get(f"/-/comments/api/threads/{thread['id']}")).json()
    )


async def test_delete_own_comment_leaves_a_tombstone(as_actor):
    alice, bob = as_actor("alice"), as_actor("bob")
    thread = await alice.new_thread("Secret plan v1", table="items")
    comment_id = thread["comments"][0]["id"]
    await alice.post(f"/-/comments/api/comments/{comment_id}/edit", {"body": "Secret plan v2"})
    await bob.reply(thread["id"], "Reply stays")
    refused = await bob.post(f"/-/comments/api/comments/{comment_id}/delete", {})
    assert refused.status_code == 403
    deleted = await alice.post(f"/-/comments/api/comments/{comment_id}/delete", {})
    comments = deleted.json()["thread"]["comments"]
    assert comments[0]["deleted"] is True and comments[0]["body"] is None
    assert comments[1]["body"] == "Reply stays"
    text = json.dumps((await bob.get(f"/-/comments/api/threads/{thread['id']}")).json())
    assert "Secret plan" not in text
    assert (await bob.get(f"/-/comments/api/comments/{comment_id}/revisions")).status_code == 404
    search = (await bob.get("/-/comments/api/activity?q=plan")).json()
    assert search["comments"] == []
    assert "This comment was deleted" in (await bob.get(f"/-/comments/threads/{thread['id']}")).text


async def test_moderator_delete_is_audited(ds, as_actor):
    alice, mod, bob = as_actor("alice"), as_actor("mod"), as_actor("bob")
    thread = await alice.new_thread("Spam spam", table="items", row=["1"])
    comment_id = thread["comments"][0]["id"]
    assert (await bob.post(f"/-/comments/api/comments/{comment_id}/delete", {})).status_code == 403
    response = await mod.post(f"/-/comments/api/comments/{comment_id}/delete", {})
    assert response.status_code == 200
    assert response.json()["thread"]["comments"][0]["deleted_by"]["id"] == "mod"
    entries = await audit.entries(ds, plugin="datasette-internal-comments")
    assert len(entries) == 1
    assert entries[0]["action"] == "moderator-delete"
    assert entries[0]["actor_id"] == "mod"
    assert entries[0]["resource"] == "data/items/1"
    assert entries[0]["details"]["author_id"] == "alice"


async def test_root_moderates(as_actor):
    alice, root = as_actor("alice"), as_actor("root")
    thread = await alice.new_thread("Hi", table="items")
    comment_id = thread["comments"][0]["id"]
    assert (
        await root.post(f"/-/comments/api/threads/{thread['id']}/resolve", {})
    ).status_code == 200
    assert (await root.post(f"/-/comments/api/comments/{comment_id}/delete", {})).status_code == 200


async def test_resolve_and_reopen(as_actor):
    alice, bob, mod = as_actor("alice"), as_actor("bob"), as_actor("mod")
    thread = await alice.new_thread("Is this right?", table="items", row=["3"])
    url = f"/-/comments/api/threads/{thread['id']}"
    assert (await bob.post(url + "/resolve", {})).status_code == 403
    resolved = await alice.post(url + "/resolve", {})
    assert resolved.json()["thread"]["resolved"] is True
    assert resolved.json()["thread"]["resolved_by"]["id"] == "alice"
    assert (await bob.post(url + "/reopen", {})).status_code == 403
    reopened = await mod.post(url + "/reopen", {})
    assert reopened.json()["thread"]["resolved"] is False
    # resolving twice is harmless
    await alice.post(url + "/resolve", {})
    again = await alice.post(url + "/resolve", {})
    assert again.json()["thread"]["resolved"] is True


async def test_reactions_toggle(as_actor):
    alice, bob = as_actor("alice"), as_actor("bob")
    thread = await alice.new_thread("React to me", table="items")
    # Only the reactions in use are listed: none yet.
    assert thread["comments"][0]["reactions"] == []
    url = f"/-/comments/api/comments/{thread['comments'][0]['id']}/reactions"
    first = await bob.post(url, {"emoji": "+1"})
    assert first.json()["added"] is True
    await alice.post(url, {"emoji": "+1"})
    await alice.post(url, {"emoji": "rocket"})
    reactions = {
        r["name"]: r
        for r in (await bob.get(f"/-/comments/api/threads/{thread['id']}")).json()["thread"][
            "comments"
        ][0]["reactions"]
    }
    assert list(reactions) == ["+1", "rocket"]  # in the fixed set's order
    assert reactions["+1"] == {
        "name": "+1",
        "emoji": "\N{THUMBS UP SIGN}",
        "count": 2,
        "reacted": True,
    }
    assert reactions["rocket"]["count"] == 1 and reactions["rocket"]["reacted"] is False
    second = await bob.post(url, {"emoji": "+1"})
    assert second.json()["added"] is False
    reactions = {r["name"]: r for r in second.json()["thread"]["comments"][0]["reactions"]}
    assert reactions["+1"]["count"] == 1 and reactions["+1"]["reacted"] is False
    await alice.post(url, {"emoji": "rocket"})  # its last one: the reaction is no longer listed
    page = await alice.get(f"/-/comments/threads/{thread['id']}")
    assert 'aria-label="Rocket: ' not in page.text
    assert 'aria-label="Thumbs up: 1"' in page.text
    # The picker still offers all eight, alice's own marked
    picks = re.findall(r'<button[^>]*class="comment-pick[^"]*"[^>]*>', page.text)
    assert len(picks) == 8
    assert [p for p in picks if 'aria-pressed="true"' in p] == [
        p for p in picks if 'value="+1"' in p
    ]
    for emoji in ("poop", ["+1"], None, 1):
        bad = await bob.post(url, {"emoji": emoji})
        assert bad.status_code == 400
        assert "emoji" in bad.json()["errors"][0]


BAD_THREADS = [
    ({"database": "data", "table": "items"}, 400, "'body' must be a string"),
    ({"database": "data", "table": "items", "body": "   "}, 400, "must not be empty"),
    ({"database": "data", "table": "items", "body": "x" * (MAX_BODY_CHARS + 1)}, 400, "longer"),
    ({"database": "data", "table": "items", "body": 5}, 400, "'body' must be a string"),
    ({"database": "data", "table": 7, "body": "x"}, 400, "'table' must be a string"),
    ({"table": "items", "body": "x"}, 400, "'database' is required"),
    ({"database": "data", "row": ["1"], "body": "x"}, 400, "need a 'table'"),
    ({"database": "data", "table": "items", "row": {"id": 1}, "body": "x"}, 400, "'row'"),
    ({"database": "data", "table": "items", "row": [True], "body": "x"}, 400, "'row'"),
    # Core's body reader refuses it before the route sees it.
    ({"database": "data", "table": "items", "row": [2**70], "body": "x"}, 400, "64 bits"),
    ({"database": "data", "table": "items", "row": [], "body": "x"}, 400, "'row'"),
    ({"database": "nope", "body": "x"}, 404, "not found"),
    ({"database": "data", "table": "nope", "body": "x"}, 404, "not found"),
    ({"database": "data", "table": "items", "column": "nope", "body": "x"}, 404, "not found"),
    ({"database": "data", "table": "items", "row": ["99"], "body": "x"}, 404, "not found"),
    ({"database": "data", "table": "pairs", "row": ["x/y"], "body": "x"}, 404, "not found"),
]


async def test_bad_input_is_a_clear_4xx_and_stores_nothing(ds, as_actor):
    alice = as_actor("alice")
    for body, status, message in BAD_THREADS:
        response = await alice.post("/-/comments/api/threads", body)
        assert response.status_code == status, body
        assert response.json()["ok"] is False
        assert message.lower() in response.json()["errors"][0].lower(), body
    assert await count(ds, store.THREADS) == 0
    assert await count(ds, store.COMMENTS) == 0


MALFORMED_BODIES = [
    (b'{"database": "data", "table": "items", "body": "\\ud800"}', {}),
    (b"not json", {"content-type": "application/json"}),
    (b"[1, 2]", {"content-type": "application/json"}),
    (b"", {"content-type": "application/json"}),
    (b"\xff\xfe", {"content-type": "application/json"}),
]
TOO_LARGE_BODIES = [
    (b"x" * (2 * 1024 * 1024), {"content-type": "application/json"}),
    (
        b"body=" + b"x" * (100 * 1024),
        {"content-type": "application/x-www-form-urlencoded", "accept": "application/json"},
    ),
]


async def test_malformed_bodies(ds):
    for (content, headers), status in [
        *((body, 400) for body in MALFORMED_BODIES),
        *((body, 413) for body in TOO_LARGE_BODIES),
    ]:
        response = await ds.client.post(
            "/-/comments/api/threads",
            content=content,
            headers=headers,
            cookies=cookies_for(ds, "alice"),
        )
        assert response.status_code == status, content[:20]
        assert response.json()["ok"] is False
    assert await count(ds, store.THREADS) == 0


async def test_bad_ids_and_methods(as_actor):
    alice = as_actor("alice")
    assert (await alice.get("/-/comments/api/threads/999")).status_code == 404
    huge = "9" * 30
    assert (await alice.get(f"/-/comments/api/threads/{huge}")).status_code == 400
    assert (await alice.post(f"/-/comments/api/comments/{huge}/delete", {})).status_code == 400
    assert (await alice.get(f"/-/comments/api/activity?_next={huge}")).status_code == 400
    assert (await alice.post("/-/comments/api/inbox/read", {"ids": [huge]})).status_code == 400
    assert (await alice.post("/-/comments/api/inbox/read", {"ids": "x"})).status_code == 400
    assert (await alice.post("/-/comments/api/inbox/read", {})).status_code == 400
    assert (
        await alice.post("/-/comments/api/threads/999/comments", {"body": "x"})
    ).status_code == 404
    assert (await alice.post("/-/comments/api/comments/999/edit", {"body": "x"})).status_code == 404
    assert (await alice.get("/-/comments/api/comments/1/edit")).status_code == 405
    assert (await alice.post("/-/comments/api/activity", {})).status_code == 405
    for query in (
        "_size=0",
        "_size=abc",
        "_size=100000",
        "_next=x",
        "_next=1,2",
        "resolved=maybe",
        "mentions=bob",
    ):
        response = await alice.get("/-/comments/api/activity?" + query)
        assert response.status_code == 400, query
        assert response.json()["ok"] is False
    assert (await alice.get("/-/comments/api/threads")).status_code == 400
    too_many = "&".join(f"row={i}" for i in range(1001))
    assert (
        await alice.get(f"/-/comments/api/badges?database=data&table=items&{too_many}")
    ).status_code == 400


async def test_edit_and_react_on_deleted_comment_refused(as_actor):
    alice = as_actor("alice")
    thread = await alice.new_thread("Bye", table="items")
    comment_id = thread["comments"][0]["id"]
    await alice.post(f"/-/comments/api/comments/{comment_id}/delete", {})
    assert (
        await alice.post(f"/-/comments/api/comments/{comment_id}/edit", {"body": "x"})
    ).status_code == 409
    assert (
        await alice.post(f"/-/comments/api/comments/{comment_id}/reactions", {"emoji": "+1"})
    ).status_code == 409


async def test_anonymous_sees_nothing_and_cannot_write(as_actor):
    alice, anonymous = as_actor("alice"), as_actor(None)
    thread = await alice.new_thread("Members only", table="items", row=["1"])
    assert (await anonymous.get(f"/-/comments/api/threads/{thread['id']}")).status_code == 404
    assert (await anonymous.get("/-/comments/api/activity")).json()["comments"] == []
    assert (
        await anonymous.get("/-/comments/api/badges?database=data&table=items&row=1")
    ).status_code == 404
    assert (await anonymous.get("/-/comments/api/inbox")).status_code == 403
    refused = await anonymous.post(
        "/-/comments/api/threads", {"database": "data", "table": "items", "body": "x"}
    )
    assert refused.status_code == 403
    assert (
        await anonymous.post(f"/-/comments/api/threads/{thread['id']}/comments", {"body": "x"})
    ).status_code == 403
    page = await anonymous.get("/data/items/1")
    assert "Members only" not in page.text and "comments-panel" not in page.text
    table_page = (await anonymous.get("/data/items")).text
    assert "Members only" not in table_page and "Comments on this table" not in table_page


async def test_actor_without_view_cannot_comment_on_private_targets(as_actor):
    bob = as_actor("bob")
    missing = await bob.post("/-/comments/api/threads", {"database": "nope", "body": "x"})
    assert missing.status_code == 404
    for target in (
        {"database": "private"},
        {"database": "private", "table": "secrets"},
        {"database": "data", "table": "hidden", "row": ["1"]},
        {"database": "data", "table": "no_such_table"},
    ):
        response = await bob.post("/-/comments/api/threads", {**target, "body": "x"})
        assert response.status_code == 404, target
        # the same answer as for a database that does not exist: nothing tells them apart
        assert response.json() == missing.json(), target


READ_PATHS = [
    "/-/comments/api/threads/{thread_id}",
    "/-/comments/api/comments/{comment_id}/revisions",
    "/-/comments/api/threads?database={database}&table={table}&row=1",
    "/-/comments/api/badges?database={database}&table={table}&row=1",
    "/-/comments/threads/{thread_id}",
    "/-/comments/target?database={database}&table={table}&row=1",
    "/-/comments/target?database={database}&table={table}&row=1&fragment=1",
]


@pytest.mark.parametrize(
    "database,table,label",
    [
        ("private", "secrets", "top secret label"),
        ("data", "hidden", "classified label"),
        ("data", "quiet", "quiet label"),
    ],
)
async def test_private_comments_leak_on_no_read_path(as_actor, database, table, label):
    admin, bob = as_actor("admin"), as_actor("bob")
    thread = await admin.new_thread(
        "Confidential remark @bob", database=database, table=table, row=["1"], column="name"
    )
    assert thread["target"]["label"] == label
    comment_id = thread["comments"][0]["id"]
    await admin.post(
        f"/-/comments/api/comments/{comment_id}/edit", {"body": "Confidential remark edited @bob"}
    )
    await bob.new_thread("Public remark @admin", table="items", row=["1"])
    await admin.reply(thread["id"], "Confidential reply")
    for path in READ_PATHS:
        url = path.format(
            thread_id=thread["id"], comment_id=comment_id, database=database, table=table
        )
        response = await bob.get(url)
        assert response.status_code == 404, url
        assert "Confidential" not in response.text and label not in response.text, url
    for url in (
        "/-/comments/api/activity",
        "/-/comments/api/activity?q=Confidential",
        "/-/comments/api/activity?mentions=me",
        f"/-/comments/api/activity?table={table}",
        "/-/comments/api/inbox",
        "/-/comments/api/actors?q=",
        "/-/comments/api/actors?q=adm",
        "/-/comments",
        "/-/comments?q=Confidential",
        "/-/comments/inbox",
    ):
        response = await bob.get(url)
        assert response.status_code == 200, url
        for secret in ("Confidential remark", "Confidential reply", label, f"{database}/{table}"):
            assert secret not in response.text, (url, secret)
    assert (await bob.get("/-/comments/api/inbox")).json()["unread_count"] == 0
    # Datasette's own pages of the table and row carry no trace of its comments either
    for url in (f"/{database}/{table}/1", f"/{database}/{table}"):
        response = await bob.get(url)
        assert "Confidential" not in response.text and "comments-panel" not in response.text
    assert (await bob.get("/-/comments/api/actors?q=")).json()["actors"] == [
        {"id": "bob", "name": "bob"}
    ]
    # the comments are there: admin sees them on the same paths
    assert "Confidential" in (await admin.get("/-/comments/api/activity?q=Confidential")).text
    assert (await admin.get(f"/-/comments/api/threads/{thread['id']}")).status_code == 200
    admin_actors = (await admin.get("/-/comments/api/actors?q=")).json()["actors"]
    assert [a["id"] for a in admin_actors] == ["admin", "bob"]


async def test_cross_site_post_with_cookie_is_refused(ds, as_actor):
    alice = as_actor("alice")
    thread = await alice.new_thread("Original", table="items")
    comment_id = thread["comments"][0]["id"]
    attempts = [
        ("/-/comments/api/threads", {"database": "data", "table": "items", "body": "csrf"}),
        (f"/-/comments/api/threads/{thread['id']}/comments", {"body": "csrf"}),
        (f"/-/comments/api/comments/{comment_id}/edit", {"body": "csrf"}),
        (f"/-/comments/api/comments/{comment_id}/delete", {}),
        (f"/-/comments/api/threads/{thread['id']}/resolve", {}),
        (f"/-/comments/api/comments/{comment_id}/reactions", {"emoji": "+1"}),
        ("/-/comments/api/inbox/read", {"all": True}),
    ]
    for path, body in attempts:
        for headers in ({"sec-fetch-site": "cross-site"}, {"origin": "https://evil.example"}):
            response = await alice.post(path, body, headers=headers)
            assert response.status_code == 403, (path, headers)
    current = (await alice.get(f"/-/comments/api/threads/{thread['id']}")).json()["thread"]
    assert [c["body"] for c in current["comments"]] == ["Original"]
    assert current["resolved"] is False
    assert await count(ds, store.REACTIONS) == 0


async def test_events_are_registered_and_fired(ds, as_actor, register):
    seen = []

    class Recorder:
        @staticmethod
        def track_event(datasette, event):
            seen.append(event)

    from datasette import hookimpl

    Recorder.track_event = staticmethod(hookimpl(Recorder.track_event))
    register(Recorder)
    alice, mod = as_actor("alice"), as_actor("mod")
    thread = await alice.new_thread("One", table="items", row=["1"], column="price")
    comment_id = thread["comments"][0]["id"]
    await alice.reply(thread["id"], "Two")
    await alice.post(f"/-/comments/api/comments/{comment_id}/edit", {"body": "One!"})
    await alice.post(f"/-/comments/api/threads/{thread['id']}/resolve", {})
    await alice.post(f"/-/comments/api/threads/{thread['id']}/reopen", {})
    await mod.post(f"/-/comments/api/comments/{comment_id}/delete", {})
    ours = [event for event in seen if event.name.startswith(("comment-", "thread-"))]
    assert [event.name for event in ours] == [
        "comment-added",
        "comment-added",
        "comment-edited",
        "thread-resolved",
        "thread-reopened",
        "comment-deleted",
    ]
    assert all(isinstance(event, Event) for event in ours)
    first = ours[0]
    assert first.actor == {"id": "alice"}
    assert first.properties() == {
        "thread_id": thread["id"],
        "comment_id": comment_id,
        "database": "data",
        "table": "items",
        "column": "price",
        "row": "1",
        "target_type": "cell",
    }
    assert ours[-1].actor == {"id": "mod"}
    names = {cls.name for cls in ds.event_classes}
    assert {
        "comment-added",
        "comment-edited",
        "comment-deleted",
        "thread-resolved",
        "thread-reopened",
    } <= names


async def test_markdown_is_rendered_safely(as_actor):
    alice = as_actor("alice")
    body = (
        "**bold** <script>alert(1)</script> <img src=x onerror=alert(2)> "
        "[click](javascript:alert(3)) [site](https://example.com) @bob"
    )
    thread = await alice.new_thread(body, table="items")
    html = thread["comments"][0]["html"]
    assert "<strong>bold</strong>" in html
    assert "<script" not in html and "<img" not in html and 'href="javascript' not in html
    assert 'href="https://example.com"' in html and 'rel="nofollow noopener"' in html
    assert '<span class="comment-mention">@bob</span>' in html
    page = (await alice.get(f"/-/comments/threads/{thread['id']}")).text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


async def test_row_label_is_escaped(ds, files, as_actor):
    conn = sqlite3.connect(files[0])
    conn.execute("insert into items values (9, '<img src=x onerror=alert(9)>', 1)")
    conn.commit()
    conn.close()
    alice = as_actor("alice")
    thread = await alice.new_thread("label test", table="items", row=["9"])
    assert thread["target"]["label"] == "<img src=x onerror=alert(9)>"
    for url in (
        f"/-/comments/threads/{thread['id']}",
        "/-/comments",
        "/-/comments/target?database=data&table=items&row=9",
    ):
        text = (await alice.get(url)).text
        assert "<img src=x onerror" not in text, url


async def test_runtime_setting_limits_where_comments_are_enabled(ds, as_actor):
    alice, root = as_actor("alice"), as_actor("root")
    existing = await alice.new_thread("Before", table="notes")
    response = await root.post(
        "/-/internal/settings",
        {"plugin": "datasette-internal-comments", "key": "enabled", "value": ["data/items"]},
    )
    assert response.status_code == 200, response.text
    await alice.new_thread("Allowed", table="items")
    refused = await alice.post(
        "/-/comments/api/threads", {"database": "data", "table": "notes", "body": "x"}
    )
    assert refused.status_code == 403
    assert "not enabled" in refused.json()["errors"][0]
    assert (
        await alice.post(f"/-/comments/api/threads/{existing['id']}/comments", {"body": "x"})
    ).status_code == 403
    # existing comments stay readable
    assert (await alice.get(f"/-/comments/api/threads/{existing['id']}")).status_code == 200
    bad = await root.post(
        "/-/internal/settings",
        {"plugin": "datasette-internal-comments", "key": "enabled", "value": "everything"},
    )
    assert bad.status_code == 400


async def test_setting_from_config(datasette_on):
    config = dict(CONFIG, plugins={"datasette-internal-comments": {"enabled": ["private"]}})
    datasette = await datasette_on(config=config, internal="other.db")
    from .conftest import Client

    refused = await Client(datasette, "alice").post(
        "/-/comments/api/threads", {"database": "data", "body": "x"}
    )
    assert refused.status_code == 403
    await Client(datasette, "admin").new_thread("ok", database="private")


async def test_activity_filters_search_and_keyset_pagination(as_actor):
    alice, bob = as_actor("alice"), as_actor("bob")
    first = await alice.new_thread("Apples are red", table="items", row=["1"])
    await bob.reply(first["id"], "Pears are green @alice")
    second = await bob.new_thread("Notes need review", table="notes")
    await alice.post(f"/-/comments/api/threads/{first['id']}/resolve", {})
    for i in range(3):
        await alice.reply(second["id"], f"Filler {i}")

    async def bodies(query):
        response = await alice.get("/-/comments/api/activity?" + query)
        assert response.status_code == 200, response.text
        return [c["body"] for c in response.json()["comments"]]

    assert await bodies("") == [
        "Filler 2",
        "Filler 1",
        "Filler 0",
        "Notes need review",
        "Pears are green @alice",
        "Apples are red",
    ]
    assert await bodies("author=bob") == ["Notes need review", "Pears are green @alice"]
    assert await bodies("table=items") == ["Pears are green @alice", "Apples are red"]
    assert await bodies("database=private") == []
    assert await bodies("resolved=yes") == ["Pears are green @alice", "Apples are red"]
    assert len(await bodies("resolved=no")) == 4
    assert await bodies("mentions=me") == ["Pears are green @alice"]
    assert await bodies("q=apples") == ["Apples are red"]
    assert await bodies("q=green+pears") == ["Pears are green @alice"]
    assert await bodies('q="unbalanced AND (') == []
    pages, url = [], "/-/comments/api/activity?_size=4"
    while url:
        data = (await alice.get(url)).json()
        pages.append([c["body"] for c in data["comments"]])
        assert data["next_url"] == (
            f"/-/comments/api/activity?_size=4&_next={data['next']}" if data["next"] else None
        )
        url = data["next_url"]
    assert pages == [
        ["Filler 2", "Filler 1", "Filler 0", "Notes need review"],
        ["Pears are green @alice", "Apples are red"],
    ]
    page = await alice.get("/-/comments?_size=2&author=alice")
    assert "Filler 2" in page.text and "Filler 0" not in page.text
    assert "_next=" in page.text and "author=alice" in page.text


async def test_cell_anchor_becomes_outdated_then_row_deleted(ds, as_actor):
    alice, root = as_actor("alice"), as_actor("root")
    cell = await alice.new_thread("Price looks wrong", table="items", row=["2"], column="price")
    row_thread = await alice.new_thread("Whole row", table="items", row=["2"])
    assert cell["anchor"] == {"state": "current", "old_value": 2.0, "current_value": 2.0}
    unchanged = await root.post("/data/items/2/-/update", {"update": {"name": "pear!"}})
    assert unchanged.status_code == 200, unchanged.text
    thread = (await alice.get(f"/-/comments/api/threads/{cell['id']}")).json()["thread"]
    assert thread["anchor"]["state"] == "current"
    updated = await root.post("/data/items/2/-/update", {"update": {"price": 2.25}})
    assert updated.status_code == 200, updated.text
    thread = (await alice.get(f"/-/comments/api/threads/{cell['id']}")).json()["thread"]
    assert thread["anchor"] == {"state": "outdated", "old_value": 2.0, "current_value": 2.25}
    page = await alice.get("/data/items/2")
    assert "Outdated" in page.text
    deleted = await root.post("/data/items/2/-/delete", {})
    assert deleted.status_code == 200, deleted.text
    listed = (await alice.get("/-/comments/api/threads?database=data&table=items&row=2")).json()
    assert [t["anchor"]["state"] for t in listed["threads"]] == ["row-deleted", "row-deleted"]
    assert listed["threads"][0]["target"]["label"] == "pear"
    assert listed["threads"][0]["anchor"]["old_value"] == 2.0
    assert row_thread["id"] == listed["threads"][1]["id"]
    page = await alice.get(f"/-/comments/threads/{cell['id']}")
    assert "Row deleted" in page.text and "pear" in page.text


async def test_badge_counts(ds, as_actor):
    alice = as_actor("alice")
    await alice.new_thread("a", table="items", row=["1"])
    second = await alice.new_thread("b", table="items", row=["1"], column="name")
    await alice.new_thread("c", table="items", row=["3"])
    await alice.new_thread("table level", table="items")
    await alice.post(f"/-/comments/api/threads/{second['id']}/resolve", {})
    response = await alice.get("/-/comments/api/badges?database=data&table=items&row=1&row=2&row=3")
    assert response.json()["counts"] == {
        "1": {"threads": 2, "open": 1},
        "3": {"threads": 1, "open": 1},
    }
    many = await store.badge_counts(ds, "data", "items", [str(i) for i in range(1000)])
    assert many == response.json()["counts"]


async def test_badge_query_uses_the_target_index(ds):
    plan = await get_internal_db(ds).execute(
        "explain query plan select row_key, count(*) from datasette_internal_comments_threads"
        " where database_name = 'd' and table_name = 't' and row_key in ('1', '2')"
        " group by row_key"
    )
    detail = " ".join(row["detail"] for row in plan)
    assert "USING COVERING INDEX datasette_internal_comments_threads_target" in detail


async def test_form_posts_redirect_back_to_a_safe_path(ds, as_actor):
    alice = as_actor("alice")
    form = {"content-type": "application/x-www-form-urlencoded"}
    response = await alice.post(
        "/-/comments/api/threads",
        content=b"database=data&table=items&row=1&column=&body=From+a+form&next=%2Fdata%2Fitems%2F1",
        headers=form,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/data/items/1"
    thread = (await alice.get("/-/comments/api/threads?database=data&table=items&row=1")).json()
    thread_id = thread["threads"][0]["id"]
    assert thread["threads"][0]["target"]["type"] == "row"
    for evil in ("%2F%2Fevil.example%2F", "https%3A%2F%2Fevil.example%2F", "%2F%5Cevil.example"):
        response = await alice.post(
            f"/-/comments/api/threads/{thread_id}/comments",
            content=f"body=again&next={evil}".encode(),
            headers=form,
        )
        assert response.status_code == 303
        assert response.headers["location"] == f"/-/comments/threads/{thread_id}"
    error = await alice.post(
        "/-/comments/api/threads", content=b"database=data&body=", headers=form
    )
    assert error.status_code == 400
    assert "must not be empty" in error.text and "<html" in error.text.lower()


async def test_pages_render(as_actor):
    alice, bob = as_actor("alice"), as_actor("bob")
    thread = await alice.new_thread("Page test @bob", table="items", row=["1"])
    assert "Page test" in (await bob.get("/-/comments")).text
    inbox = await bob.get("/-/comments/inbox")
    assert "Page test" in inbox.text and "Mark all read" in inbox.text
    entry_id = (await bob.get("/-/comments/api/inbox")).json()["entries"][0]["inbox_id"]
    marked = await bob.post(
        "/-/comments/api/inbox/read",
        content=f"ids={entry_id}&next=%2F-%2Fcomments%2Finbox".encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert marked.status_code == 303 and marked.headers["location"] == "/-/comments/inbox"
    assert (await bob.get("/-/comments/api/inbox")).json()["unread_count"] == 0
    row_page = await bob.get("/data/items/1")
    assert 'class="comments-panel comments-row-panel"' in row_page.text
    assert "Page test" in row_page.text and "comments.js" in row_page.text
    table_page = await bob.get("/data/items")
    assert 'id="comments-dialog"' in table_page.text
    assert "window.datasetteCommentsPage = " in table_page.text
    assert "/-/comments/target?database=data&amp;table=items" in table_page.text
    target = await bob.get("/-/comments/target?database=data&table=items&row=1")
    assert "Page test" in target.text and 'name="body"' in target.text
    assert (await bob.get(f"/-/comments/threads/{thread['id']}")).status_code == 200
    assert (await bob.get("/-/comments/target?database=data&table=nope")).status_code == 404


async def test_comments_survive_a_restart(datasette_on):
    from .conftest import Client

    first = await datasette_on(internal="keep.db")
    thread = await Client(first, "alice").new_thread("Still here", table="items", row=["1"])
    datasette_on.close(first)
    second = await datasette_on(internal="keep.db")
    again = await Client(second, "alice").get(f"/-/comments/api/threads/{thread['id']}")
    assert again.json()["thread"]["comments"][0]["body"] == "Still here"


def random_json(rng, depth=0):
    choices = [
        None,
        True,
        rng.randint(-(2**70), 2**70),
        rng.random(),
        "",
        "items",
        "data",
        "price",
        "1",
        "x~2Fy,z~2Cw",
        "\x00<script>",
        "+1",
    ]
    if depth < 2:
        choices += [[random_json(rng, depth + 1) for _ in range(rng.randint(0, 3))], {"a": 1}]
    return rng.choice(choices)


async def test_random_input_never_causes_a_server_error(ds, as_actor):
    import random

    rng = random.Random(4)
    alice = as_actor("alice")
    thread = await alice.new_thread("Target", table="items", row=["1"])
    comment_id = thread["comments"][0]["id"]
    paths = [
        "/-/comments/api/threads",
        f"/-/comments/api/threads/{thread['id']}/comments",
        f"/-/comments/api/comments/{comment_id}/edit",
        f"/-/comments/api/comments/{comment_id}/reactions",
        "/-/comments/api/inbox/read",
    ]
    keys = ["database", "table", "column", "row", "body", "emoji", "ids", "all", "next"]
    for _ in range(100):
        body = {key: random_json(rng) for key in rng.sample(keys, rng.randint(0, len(keys)))}
        path = rng.choice(paths)
        response = await alice.post(path, body)
        assert response.status_code < 500, (path, body, response.text)
        assert response.json()["ok"] in (True, False)
    for query in (
        "row=%00",
        "database=data&table=items&row=" + "9" * 40,
        "q=%22",
        "_size=-1",
        "_next=-1",
    ):
        for path in (
            "/-/comments/api/threads",
            "/-/comments/api/badges",
            "/-/comments/api/activity",
            "/-/comments/target",
        ):
            response = await alice.get(f"{path}?{query}")
            assert response.status_code < 500, (path, query)


async def test_display_names_come_from_actors_from_ids(as_actor, register):
    from datasette import hookimpl

    class Names:
        @staticmethod
        @hookimpl
        def actors_from_ids(datasette, actor_ids):
            return {actor_id: {"id": actor_id, "name": actor_id.title()} for actor_id in actor_ids}

    register(Names)
    alice = as_actor("alice")
    thread = await alice.new_thread("Hi @bob", table="items")
    assert thread["author"] == {"id": "alice", "name": "Alice"}
    assert thread["comments"][0]["mentions"] == [{"id": "bob", "name": "Bob"}]
    found = (await alice.get("/-/comments/api/actors?q=al")).json()["actors"]
    assert found == [{"id": "alice", "name": "Alice"}]
    assert (await alice.get("/-/comments/api/actors?q=zz")).json()["actors"] == []


async def test_tokens_work_and_restricted_tokens_need_the_comment_actions(ds, as_actor):
    from datasette.tokens import TokenRestrictions

    await as_actor("bob").new_thread("Visible to alice", table="items", row=["1"])

    async def bearer(restrictions=None):
        token = await ds.create_token("alice", restrictions=restrictions)
        return {"authorization": f"Bearer {token}"}

    full = await bearer()
    created = await ds.client.post(
        "/-/comments/api/threads",
        json={"database": "data", "table": "items", "body": "By token"},
        headers=full,
    )
    assert created.status_code == 200, created.text
    viewer = TokenRestrictions()
    for action in ("view-instance", "view-database", "view-table"):
        viewer.allow_all(action)
    read_only = await bearer(viewer)
    activity = await ds.client.get("/-/comments/api/activity", headers=read_only)
    assert activity.json()["comments"] == []
    refused = await ds.client.post(
        "/-/comments/api/threads",
        json={"database": "data", "table": "items", "body": "x"},
        headers=read_only,
    )
    assert refused.status_code == 404
    viewer.allow_all("comments-view")
    reader = await bearer(viewer)
    activity = await ds.client.get("/-/comments/api/activity", headers=reader)
    assert [c["body"] for c in activity.json()["comments"]] == ["By token", "Visible to alice"]
    refused = await ds.client.post(
        "/-/comments/api/threads",
        json={"database": "data", "table": "items", "body": "x"},
        headers=reader,
    )
    assert refused.status_code == 403


async def test_curl_style_requests(as_actor):
    """curl -d sends JSON labelled as a form, and curl -X POST sends no body at all."""
    alice = as_actor("alice")
    response = await alice.post(
        "/-/comments/api/threads",
        content=b'{"database": "data", "table": "items", "body": "From curl"}',
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200, response.text
    thread_id = response.json()["thread"]["id"]
    resolved = await alice.post(f"/-/comments/api/threads/{thread_id}/resolve", content=b"")
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["thread"]["resolved"] is True
    empty = await alice.post("/-/comments/api/threads", content=b"")
    assert empty.status_code == 400
    assert "'database' is required" in empty.json()["errors"][0]


async def test_configuration_can_open_reading_to_anonymous_visitors(datasette_on):
    from .conftest import Client

    config = {
        "databases": {"data": {"tables": {"items": {"permissions": {"comments-view": True}}}}}
    }
    datasette = await datasette_on(config=config, internal="open.db")
    thread = await Client(datasette, "alice").new_thread("Open to all", table="items")
    await Client(datasette, "alice").new_thread("Members only", table="notes")
    anonymous = Client(datasette, None)
    read = (await anonymous.get(f"/-/comments/api/threads/{thread['id']}")).json()["thread"]
    assert read["comments"][0]["body"] == "Open to all"
    assert read["can_reply"] is False and read["comments"][0]["can_react"] is False
    bodies = [
        c["body"] for c in (await anonymous.get("/-/comments/api/activity")).json()["comments"]
    ]
    assert bodies == ["Open to all"]
    refused = await anonymous.post(
        f"/-/comments/api/threads/{thread['id']}/comments", {"body": "x"}
    )
    assert refused.status_code == 403
    page = await anonymous.get("/-/comments/target?database=data&table=items")
    assert "Open to all" in page.text and 'name="body"' not in page.text


async def test_a_full_internal_database_is_a_507_and_stores_nothing_half_way(ds, as_actor):
    alice = as_actor("alice")
    thread = await alice.new_thread("Before the disk filled", table="items")
    internal = get_internal_db(ds)

    def limit(conn, extra_pages):
        pages = conn.execute("pragma page_count").fetchone()[0]
        conn.execute(f"pragma max_page_count = {pages + extra_pages}")

    await internal.execute_write_fn(lambda conn: limit(conn, 5), transaction=False)
    statuses = []
    try:
        for number in range(40):
            response = await alice.post(
                f"/-/comments/api/threads/{thread['id']}/comments",
                {"body": f"reply {number} " + "x" * 5000},
            )
            statuses.append(response.status_code)
            if response.status_code != 200:
                assert response.status_code == 507
                (message,) = response.json()["errors"]
                assert "is full" in message and "nothing was stored" in message
                break
    finally:
        await internal.execute_write_fn(lambda conn: limit(conn, 1_000_000), transaction=False)
    assert statuses[-1] == 507 and statuses.count(200) == len(statuses) - 1
    stored = (await alice.get(f"/-/comments/api/threads/{thread['id']}")).json()["thread"]
    assert len(stored["comments"]) == 1 + statuses.count(200)
    assert (
        await alice.post(f"/-/comments/api/threads/{thread['id']}/comments", {"body": "after"})
    ).status_code == 200


async def test_a_plugin_denying_view_database_hides_the_tables_comments(
    as_actor, frozen_time, register
):
    from datasette import hookimpl
    from datasette.permissions import PermissionSQL

    await as_actor("bob").new_thread("On items", table="items", row=["1"])

    class DenyDatabase:
        @staticmethod
        @hookimpl
        def permission_resources_sql(datasette, actor, action):
            if action == "view-database" and actor and actor.get("id") == "alice":
                return PermissionSQL(
                    sql="select 'data' as parent, null as child, 0 as allow, 'test' as reason"
                )
            return None

    alice = as_actor("alice")
    path = "/-/comments/api/threads?database=data&table=items&row=1"
    assert len((await alice.get(path)).json()["threads"]) == 1
    register(DenyDatabase)
    frozen_time.advance(ANSWER_SECONDS)
    assert (await alice.get(path)).status_code == 404
    assert (await alice.get("/-/comments/api/activity")).json()["comments"] == []


async def test_reads_reuse_verdicts_for_a_second_and_writes_never_do(
    as_actor, frozen_time, register
):
    from datasette import hookimpl
    from datasette.permissions import PermissionSQL

    thread = await as_actor("bob").new_thread("On items", table="items", row=["1"])

    class Revoke:
        @staticmethod
        @hookimpl
        def permission_resources_sql(datasette, actor, action):
            if action in ("comments-view", "comments-add") and actor and actor["id"] == "alice":
                return PermissionSQL(
                    sql="select null as parent, null as child, 0 as allow, 'revoked' as reason"
                )
            return None

    alice = as_actor("alice")
    path = "/-/comments/api/threads?database=data&table=items&row=1"
    assert (await alice.get(path)).json()["threads"][0]["can_reply"] is True
    register(Revoke)
    # Within the second: the read still answers from the verdicts it had...
    frozen_time.advance(ANSWER_SECONDS - 0.01)
    assert len((await alice.get(path)).json()["threads"]) == 1
    # ...but no write goes through on them.
    reply = await alice.post(
        f"/-/comments/api/threads/{thread['id']}/comments", {"body": "after revocation"}
    )
    assert reply.status_code == 404
    frozen_time.advance(0.01)
    assert (await alice.get(path)).status_code == 404


async def test_bodies_are_rendered_once_when_written_and_again_only_for_an_older_renderer(
    ds, as_actor
):
    from datasette_internal_comments.rendering import RENDER_VERSION

    alice = as_actor("alice")
    thread = await alice.new_thread("**bold** @bob", table="items")
    comment_id = thread["comments"][0]["id"]
    internal = get_internal_db(ds)

    async def stored():
        row = (
            await internal.execute(
                "select html, html_version from datasette_internal_comments_comments where id = ?",
                [comment_id],
            )
        ).first()
        return row["html"], row["html_version"]

    assert await stored() == (thread["comments"][0]["html"], RENDER_VERSION)
    assert "<strong>bold</strong>" in thread["comments"][0]["html"]

    async def shown_html():
        response = await alice.get(f"/-/comments/api/threads/{thread['id']}")
        return response.json()["thread"]["comments"][0]["html"]

    # The stored HTML is what reads serve...
    await internal.execute_write(
        "update datasette_internal_comments_comments set html = '<p>as stored</p>' where id = ?",
        [comment_id],
    )
    assert await shown_html() == "<p>as stored</p>"
    # ...unless an older renderer made it (or none did: rows from before the column existed).
    for version in (RENDER_VERSION - 1, None):
        await internal.execute_write(
            "update datasette_internal_comments_comments set html_version = ? where id = ?",
            [version, comment_id],
        )
        assert "<strong>bold</strong>" in await shown_html()

    edited = await alice.post(f"/-/comments/api/comments/{comment_id}/edit", {"body": "_new_"})
    assert edited.status_code == 200, edited.text
    assert await stored() == ("<p><em>new</em></p>\n", RENDER_VERSION)
    deleted = await alice.post(f"/-/comments/api/comments/{comment_id}/delete", {})
    assert deleted.status_code == 200, deleted.text
    assert (await stored())[0] == ""


async def test_without_comments_add_every_write_path_is_refused_and_nothing_changes(datasette_on):
    """The README's configuration: comments-add on a database lists who may write there; the
    others still read, but start, reply, react, edit, delete and resolve nothing, not even
    their own comments and threads."""
    first = await datasette_on(internal="shared.db")
    bob, alice = Client(first, "bob"), Client(first, "alice")
    own = await bob.new_thread("Bob's own", table="items", row=["1"])
    resolved = await bob.new_thread("Bob's resolved", table="notes")
    assert (
        await bob.post(f"/-/comments/api/threads/{resolved['id']}/resolve", {})
    ).status_code == 200
    theirs = await alice.new_thread("Alice's", table="items")
    datasette_on.close(first)

    config = copy.deepcopy(CONFIG)
    config["databases"]["data"]["permissions"]["comments-add"] = {"id": ["root", "alice"]}
    second = await datasette_on(internal="shared.db", config=config)
    bob, alice = Client(second, "bob"), Client(second, "alice")
    own_comment, their_comment = own["comments"][0]["id"], theirs["comments"][0]["id"]
    attempts = [
        ("/-/comments/api/threads", {"database": "data", "table": "items", "body": "x"}),
        ("/-/comments/api/threads", {"database": "data", "body": "x"}),
        (f"/-/comments/api/threads/{own['id']}/comments", {"body": "x"}),
        (f"/-/comments/api/threads/{theirs['id']}/comments", {"body": "x"}),
        (f"/-/comments/api/comments/{own_comment}/reactions", {"emoji": "+1"}),
        (f"/-/comments/api/comments/{their_comment}/reactions", {"emoji": "+1"}),
        (f"/-/comments/api/comments/{own_comment}/edit", {"body": "edited"}),
        (f"/-/comments/api/comments/{own_comment}/delete", {}),
        (f"/-/comments/api/threads/{own['id']}/resolve", {}),
        (f"/-/comments/api/threads/{resolved['id']}/reopen", {}),
    ]
    for path, body in attempts:
        response = await bob.post(path, body)
        assert response.status_code == 403, (path, response.text)
        assert response.json()["ok"] is False and response.json()["errors"], path
    # bob still reads everything, as it was
    for thread, is_resolved in ((own, False), (resolved, True)):
        read = await bob.get(f"/-/comments/api/threads/{thread['id']}")
        assert read.status_code == 200
        shown = read.json()["thread"]
        body = thread["comments"][0]["body"]
        assert [(c["body"], c["reactions"]) for c in shown["comments"]] == [(body, [])]
        assert shown["resolved"] is is_resolved
        assert shown["can_reply"] is False and shown["comments"][0]["can_edit"] is False
    assert await count(second, store.THREADS) == 3
    assert await count(second, store.COMMENTS) == 3
    assert await count(second, store.REVISIONS) == 0
    assert await count(second, store.REACTIONS) == 0
    # ...and the actors the block lists still write
    assert (await alice.post(attempts[3][0], {"body": "Still open to me"})).status_code == 200


async def test_where_comments_are_disabled_reactions_are_refused_but_own_edits_and_deletes_work(
    ds, as_actor
):
    alice, bob, root = as_actor("alice"), as_actor("bob"), as_actor("root")
    thread = await alice.new_thread("On notes", table="notes")
    reply = (await alice.reply(thread["id"], "A reply"))["comment_id"]
    comment_id = thread["comments"][0]["id"]
    elsewhere = await alice.new_thread("On items", table="items")
    response = await root.post(
        "/-/internal/settings",
        {"plugin": "datasette-internal-comments", "key": "enabled", "value": ["data/items"]},
    )
    assert response.status_code == 200, response.text
    refused = await bob.post(f"/-/comments/api/comments/{comment_id}/reactions", {"emoji": "+1"})
    assert refused.status_code == 403
    assert "not enabled" in refused.json()["errors"][0]
    assert await count(ds, store.REACTIONS) == 0
    # reactions where comments are enabled still go through
    allowed = await bob.post(
        f"/-/comments/api/comments/{elsewhere['comments'][0]['id']}/reactions", {"emoji": "+1"}
    )
    assert allowed.status_code == 200 and allowed.json()["added"] is True
    # existing comments stay editable and deletable
    edited = await alice.post(f"/-/comments/api/comments/{comment_id}/edit", {"body": "Edited"})
    assert edited.status_code == 200, edited.text
    assert edited.json()["thread"]["comments"][0]["body"] == "Edited"
    deleted = await alice.post(f"/-/comments/api/comments/{reply}/delete", {})
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["thread"]["comments"][1]["deleted"] is True


async def test_the_body_limit_counts_characters_after_trimming_on_every_write(ds, as_actor):
    alice = as_actor("alice")
    longest = "é" * MAX_BODY_CHARS  # characters, not bytes (twice as many in UTF-8)
    thread = await alice.new_thread(" \n\t" + longest + "\n  ", table="items")
    comment_id = thread["comments"][0]["id"]
    assert thread["comments"][0]["body"] == longest
    too_long = "é" * (MAX_BODY_CHARS + 1)
    for path, body in (
        (f"/-/comments/api/threads/{thread['id']}/comments", {"body": too_long}),
        (f"/-/comments/api/comments/{comment_id}/edit", {"body": too_long}),
        (f"/-/comments/api/comments/{comment_id}/edit", {"body": "  " + too_long + "  "}),
    ):
        response = await alice.post(path, body)
        assert response.status_code == 400, path
        assert "longer than 10000 characters" in response.json()["errors"][0]
    # nothing was stored by the refused writes
    shown = (await alice.get(f"/-/comments/api/threads/{thread['id']}")).json()["thread"]
    assert [c["body"] for c in shown["comments"]] == [longest]
    assert shown["comments"][0]["revision_count"] == 0
    assert await count(ds, store.COMMENTS) == 1
    assert await count(ds, store.REVISIONS) == 0


async def test_large_cell_values_and_blobs_are_stored_as_a_digest_that_still_sees_a_change(
    ds, as_actor
):
    alice = as_actor("alice")
    data = ds.get_database("data")
    whole = "w" * 1990  # its JSON, quotes included, is within 2,000 characters
    large = "x" * 5000
    await data.execute_write("update items set name = ? where id = 1", [whole])
    await data.execute_write("update items set name = ? where id = 2", [large])
    await data.execute_write("update items set price = ? where id = 3", [b"\x00\xff" * 50])
    kept = await alice.new_thread("whole", table="items", row=[1], column="name")
    digest = await alice.new_thread("large", table="items", row=[2], column="name")
    blob = await alice.new_thread("blob", table="items", row=[3], column="price")
    assert kept["anchor"] == {"state": "current", "old_value": whole, "current_value": whole}
    rows = await get_internal_db(ds).execute(f"select id, anchor_value from {store.THREADS}")
    stored = {row["id"]: row["anchor_value"] for row in rows}
    assert json.loads(stored[kept["id"]]) == whole
    assert len(stored[digest["id"]]) <= 2000 and large not in stored[digest["id"]]
    large_anchor = json.loads(stored[digest["id"]])
    # a prefix of the value's JSON, and a digest of all of it
    assert large_anchor["truncated"] and json.dumps(large).startswith(large_anchor["truncated"])
    assert len(large_anchor["sha256"]) == 64
    blob_anchor = json.loads(stored[blob["id"]])
    assert blob_anchor["binary_bytes"] == 100 and len(blob_anchor["sha256"]) == 64
    for thread in (digest, blob):
        assert thread["anchor"]["state"] == "current"
    # A change past the kept prefix, and one byte of the BLOB, are still seen
    await data.execute_write("update items set name = ? where id = 2", [large[:-1] + "y"])
    changed_blob = b"\x00\xff" * 49 + b"\x00\xfe"
    await data.execute_write("update items set price = ? where id = 3", [changed_blob])
    for thread in (digest, blob):
        shown = (await alice.get(f"/-/comments/api/threads/{thread['id']}")).json()["thread"]
        assert shown["anchor"]["state"] == "outdated", thread["target"]


async def test_a_hidden_table_gets_the_same_answer_as_a_missing_one_on_the_read_apis(as_actor):
    """README, JSON API: "404 no such target or one you may not see (the same answer for both,
    so a private table's existence does not leak)"."""
    bob = as_actor("bob")
    for path in (
        "/-/comments/api/threads?database=data&table={table}",
        "/-/comments/api/threads?database=data&table={table}&row=1",
        "/-/comments/api/badges?database=data&table={table}&row=1",
        "/-/comments/target?database=data&table={table}&fragment=1",
    ):
        hidden = await bob.get(path.format(table="hidden"))
        assert hidden.status_code == 404, path
        # Nor does another spelling of its name, which Datasette's rules would not cover.
        for other in ("no_such_table", "HIDDEN"):
            missing = await bob.get(path.format(table=other))
            assert (hidden.status_code, hidden.text) == (missing.status_code, missing.text), path
    # Nor the id of a thread or comment on it: answered as an id that was never used.
    secret = await as_actor("root").new_thread("classified", table="hidden", row=["1"])
    for path in (
        "/-/comments/api/threads/{thread}",
        "/-/comments/api/comments/{comment}/revisions",
    ):
        hidden = await bob.get(
            path.format(thread=secret["id"], comment=secret["comments"][0]["id"])
        )
        missing = await bob.get(path.format(thread=10**6, comment=10**6))
        assert hidden.status_code == 404, path
        assert (hidden.status_code, hidden.text) == (missing.status_code, missing.text), path


async def test_links_in_comments_are_only_http_https_or_mailto(as_actor):
    """README, Security notes: "only `http`, `https`, `mailto` links"."""
    body = (
        "[web](https://example.com/a) [mail](mailto:bob@example.com) "
        "[f](ftp://example.com/f) [t](tel:+15551234) [s](ssh://example.com) "
        "[i](irc://example.com/chan) [w](webcal://example.com/cal) <ftp://example.com/auto>"
    )
    thread = await as_actor("alice").new_thread(body, table="items")
    hrefs = re.findall(r'href="([^"]*)"', thread["comments"][0]["html"])
    assert hrefs == ["https://example.com/a", "mailto:bob@example.com"]
