"""Input an attacker would send: identifiers with a trailing newline, numbers in other scripts,
deep JSON, huge integers in query strings."""

import re
import urllib.parse

import pytest
from datasette_internal_bookmarks.migrations import BOOKMARKS, LINKS
from datasette_internal_bookmarks.routes import routes
from datasette_internal_db import get_internal_db

LINKS_API = "/-/l/api/links"
BOOKMARKS_API = "/-/bookmarks/api/bookmarks"
DEEP = b"[" * 100_000 + b"]" * 100_000


async def count(ds, table):
    return (await get_internal_db(ds).execute(f"select count(*) from {table}")).single_value()


@pytest.mark.parametrize(
    "code", ["abc\n", "abc\r\n", "\nabc", "abc\x00", "abc ", "abc\u2028", "١٢٣٤", "ａbc", "abc/"]
)
async def test_a_custom_code_must_match_in_full(ds, alice, code):
    response = await ds.client.post(
        LINKS_API, json={"target": "/data/places", "code": code}, cookies=alice
    )
    assert response.status_code == 400, response.text
    assert "custom code" in response.json()["errors"][0]
    form = await ds.client.post(
        "/-/links",
        content=urllib.parse.urlencode({"target": "/data/places", "code": code}).encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
        cookies=alice,
    )
    assert form.status_code == 400
    assert await count(ds, LINKS) == 0


async def test_custom_codes_are_3_to_64_of_the_documented_characters(ds, alice):
    # README, Codes: "Custom codes are 3-64 characters of `A-Z a-z 0-9 - _`, starting with a
    # letter or digit"; JSON API: refused "with `400`"; "nothing is stored half-way".
    accepted = ["ab3", "9" + "x" * 63, "Z-_z", "7__", "A1-b2_C3"]
    for code in accepted:
        response = await ds.client.post(
            LINKS_API, json={"target": "/data/places", "code": code}, cookies=alice
        )
        assert response.status_code == 201, (code, response.text)
        assert response.json()["link"]["code"] == code
    refused = ["ab", "x" * 65, "_abc", "-abc", "ab.c", "ab+c", "ab~c", "ab%c"]
    for code in refused:
        response = await ds.client.post(
            LINKS_API, json={"target": "/data/places", "code": code}, cookies=alice
        )
        assert response.status_code == 400, (code, response.text)
        assert response.json()["ok"] is False
        assert "A custom code is 3-64 characters" in response.json()["errors"][0]
    assert await count(ds, LINKS) == len(accepted)


@pytest.mark.parametrize("path", [LINKS_API, BOOKMARKS_API])
async def test_size_is_1_to_200(ds, alice, path):
    # README, JSON API: "Lists page the Datasette way: `?_size=` (1-200, default 50)".
    assert (await ds.client.get(f"{path}?_size=200", cookies=alice)).status_code == 200
    for size in ("201", "0"):
        response = await ds.client.get(f"{path}?_size={size}", cookies=alice)
        assert response.status_code == 400, (size, response.text)
        assert response.json()["ok"] is False
        assert "_size" in response.json()["errors"][0]


@pytest.mark.parametrize("value", ["²", "١٢", "1_000", " 5", "5\n", "+5", "0", 2**53 + 1, 1.5])
async def test_max_visits_takes_only_ascii_digits_in_range(ds, alice, value):
    response = await ds.client.post(
        LINKS_API, json={"target": "/data/places", "max_visits": value}, cookies=alice
    )
    assert response.status_code == 400, response.text
    assert "max_visits" in response.json()["errors"][0]
    assert await count(ds, LINKS) == 0


async def test_deeply_nested_json_is_a_400_on_every_write_route(ds, alice):
    link = (await ds.client.post(LINKS_API, json={"target": "/data"}, cookies=alice)).json()
    mark = (await ds.client.post(BOOKMARKS_API, json={"url": "/data"}, cookies=alice)).json()
    paths = [
        BOOKMARKS_API,
        f"{BOOKMARKS_API}/{mark['bookmark']['id']}",
        "/-/bookmarks/api/import",
        LINKS_API,
        f"{LINKS_API}/{link['link']['code']}",
    ]
    for path in paths:
        for body in (DEEP, b'{"title": ' + DEEP + b"}"):
            response = await ds.client.post(
                path, content=body, headers={"content-type": "application/json"}, cookies=alice
            )
            assert response.status_code == 400, (path, response.text[:200])
            assert "nested more than 100 levels" in response.json()["errors"][0]
    assert await count(ds, BOOKMARKS) == 1 and await count(ds, LINKS) == 1


@pytest.mark.parametrize(
    "query",
    [
        "_next=9223372036854775808",
        "_next=" + "9" * 5000,
        "_next=%D9%A1",
        "_size=%C2%B2",
        "_size=1_0",
        "_size=+5",
    ],
)
@pytest.mark.parametrize("path", [BOOKMARKS_API, "/-/bookmarks"])
async def test_integer_parameters_out_of_range_are_400(ds, alice, path, query):
    response = await ds.client.get(f"{path}?{query}", cookies=alice)
    assert response.status_code == 400, response.text[:300]


@pytest.mark.parametrize("text", ["\x00", '"', "'", '"a', "NEAR(", "a OR", "*", "^x", "\x01\x7f"])
async def test_any_search_text_is_answered(ds, alice, text):
    await ds.client.post(BOOKMARKS_API, json={"url": "/data/places", "title": "a"}, cookies=alice)
    query = urllib.parse.urlencode({"q": text})
    assert (await ds.client.get(f"{BOOKMARKS_API}?{query}", cookies=alice)).status_code == 200
    assert (await ds.client.get(f"/-/bookmarks?{query}", cookies=alice)).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/-/l/abc",
        "/-/l/abc/qr.svg",
        "/-/l/abc/qr.png",
        "/-/l/api/links/abc",
        "/-/links/abc",
        "/-/bookmarks/12/edit",
        "/-/bookmarks/api/bookmarks/12",
    ],
)
def test_route_patterns_match_whole_paths(path):
    # Datasette routes with re.match: a pattern ending in $ would also take a trailing newline.
    matching = [pattern for pattern, _ in routes if re.match(pattern, path)]
    assert matching
    assert not [pattern for pattern in matching if re.match(pattern, path + "\n")]
