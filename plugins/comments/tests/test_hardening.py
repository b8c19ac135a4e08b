"""Input an attacker would send: deep JSON, control characters in searches, huge integers,
redirect targets that leave the site in some decoded form."""

import urllib.parse

import pytest
from datasette_internal_comments import store
from datasette_internal_db.testing import UNSAFE_REDIRECTS

from .test_api import count

FORM = {"content-type": "application/x-www-form-urlencoded"}
DEEP = b"[" * 100_000 + b"]" * 100_000


async def write_routes(alice):
    thread = await alice.new_thread("Target", table="items", row=["1"])
    comment_id = thread["comments"][0]["id"]
    return thread, [
        "/-/comments/api/threads",
        f"/-/comments/api/threads/{thread['id']}/comments",
        f"/-/comments/api/threads/{thread['id']}/resolve",
        f"/-/comments/api/threads/{thread['id']}/reopen",
        f"/-/comments/api/comments/{comment_id}/edit",
        f"/-/comments/api/comments/{comment_id}/reactions",
        f"/-/comments/api/comments/{comment_id}/delete",
        "/-/comments/api/inbox/read",
    ]


@pytest.mark.parametrize(
    "body",
    [DEEP, b'{"body": ' + DEEP + b"}", b'{"database": "data", "row": ' + b"[" * 5000 + b"}"],
)
async def test_deeply_nested_json_is_a_400_on_every_write_route(ds, as_actor, body):
    alice = as_actor("alice")
    _, paths = await write_routes(alice)
    for path in paths:
        response = await alice.post(
            path, content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 400, (path, response.text[:200])
        assert "nested more than 100 levels" in response.json()["errors"][0]
    assert await count(ds, store.COMMENTS) == 1


SEARCHES = [
    "\x00",
    "apples\x00",
    "\x00apples",
    "\x01\x08\x1b\x7f",
    "\u0085",
    '"',
    "'",
    '"apples',
    "apples'",
    "\\",
    "AND",
    "apples OR",
    "NOT",
    "NEAR(",
    "*",
    "^apples",
    "body:apples",
    "-apples",
    "(",
    "{body}",
]


@pytest.mark.parametrize("text", SEARCHES)
async def test_any_search_text_is_answered_not_a_500(as_actor, text):
    alice = as_actor("alice")
    await alice.new_thread("Apples are red", table="items")
    query = urllib.parse.urlencode({"q": text})
    api = await alice.get(f"/-/comments/api/activity?{query}")
    assert api.status_code == 200, api.text[:300]
    page = await alice.get(f"/-/comments?{query}")
    assert page.status_code == 200, page.text[:300]


async def test_control_characters_split_search_words(as_actor):
    alice = as_actor("alice")
    await alice.new_thread("Apples are red", table="items")
    found = (await alice.get("/-/comments/api/activity?q=apples%00red")).json()["comments"]
    assert [comment["body"] for comment in found] == ["Apples are red"]
    # Only control characters: no words, so no search (as for an empty q).
    assert len((await alice.get("/-/comments/api/activity?q=%00")).json()["comments"]) == 1


@pytest.mark.parametrize(
    "query",
    [
        "_next=9223372036854775808",
        "_next=" + "9" * 5000,
        "_size=9223372036854775808",
        "_size=%D9%A1",
        "_next=%C2%B2",
        "_next=1_0",
        "_size=+5",
    ],
)
@pytest.mark.parametrize("path", ["/-/comments/api/activity", "/-/comments", "/-/comments/inbox"])
async def test_integer_parameters_out_of_range_are_400(as_actor, path, query):
    response = await as_actor("alice").get(f"{path}?{query}")
    assert response.status_code == 400, response.text[:300]


async def test_activity_size_is_at_most_200(as_actor):
    # README, JSON API: "activity and search: ... _size (≤ 200)"; bad input is a 400
    # {"ok": false, "errors": [...]} (the activity page: an HTML 400), never a 500.
    alice = as_actor("alice")
    await alice.new_thread("One comment", table="items")
    for path in ("/-/comments/api/activity", "/-/comments"):
        assert (await alice.get(f"{path}?_size=200")).status_code == 200, path
        over = await alice.get(f"{path}?_size=201")
        assert over.status_code == 400, (path, over.text[:300])
    over = (await alice.get("/-/comments/api/activity?_size=201")).json()
    assert over["ok"] is False and "_size" in over["errors"][0]


def form(**fields):
    return urllib.parse.urlencode(fields).encode()


async def test_every_unsafe_next_falls_back_to_a_safe_page(as_actor):
    alice = as_actor("alice")
    thread, paths = await write_routes(alice)
    fallback = f"/-/comments/threads/{thread['id']}"
    unsafe = [value for value in UNSAFE_REDIRECTS if isinstance(value, str) and value.strip()]
    unsafe = [value for value in unsafe if "\ud800" not in value]  # not encodable in a form
    for value in unsafe + ["/%2F", "/%7F", "/\x7f", "/\x85evil", "/%C2%85"]:
        response = await alice.post(
            f"/-/comments/api/threads/{thread['id']}/comments",
            content=form(body="x", next=value),
            headers=FORM,
        )
        assert response.status_code == 303, (value, response.text[:200])
        assert response.headers["location"] == fallback, value
    for path in paths[1:]:
        response = await alice.post(
            path,
            content=form(next="/%2F%2Fevil.example", emoji="+1", ids="1", body="y"),
            headers=FORM,
        )
        assert response.status_code in (303, 400, 409), (path, response.text[:200])
        if response.status_code == 303:
            location = response.headers["location"]
            assert location.startswith("/-/comments/"), (path, location)


@pytest.mark.parametrize(
    "value, location",
    [
        ("/data/items/1", "/data/items/1"),
        (
            "/data/items?_sort=name&name__contains=a b",
            "/data/items?_sort=name&name__contains=a%20b",
        ),
        ("/data/Zoë", "/data/Zo%C3%AB"),
        ("/data/items/1#comments", "/data/items/1#comments"),
    ],
)
async def test_a_safe_next_is_kept_and_sent_as_ascii(as_actor, value, location):
    alice = as_actor("alice")
    thread = await alice.new_thread("Target", table="items")
    response = await alice.post(
        f"/-/comments/api/threads/{thread['id']}/comments",
        content=form(body="x", next=value),
        headers=FORM,
    )
    assert response.status_code == 303
    assert response.headers["location"] == location
    assert response.headers["location"].isascii()


async def test_the_panel_fragment_never_carries_an_unsafe_next(as_actor):
    alice = as_actor("alice")
    query = urllib.parse.urlencode(
        {"database": "data", "table": "items", "fragment": "1", "next": "/%2F%2Fevil.example"}
    )
    page = await alice.get(f"/-/comments/target?{query}")
    assert page.status_code == 200
    assert "evil.example" not in page.text
