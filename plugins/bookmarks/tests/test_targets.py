from urllib.parse import unquote, urljoin, urlsplit

import pytest
from bookmarks_redirect_corpus import OPEN_REDIRECTS
from datasette_internal_bookmarks.targets import (
    Target,
    UnsafeTarget,
    local_path,
    location_for,
    normalize,
    parse_target,
)
from hypothesis import given, settings
from hypothesis import strategies as st


@pytest.mark.parametrize("value", OPEN_REDIRECTS)
def test_open_redirect_corpus_is_refused(value):
    with pytest.raises(UnsafeTarget):
        local_path(value)


@pytest.mark.parametrize(
    "value,expected",
    [
        ("/", "/"),
        ("/data/places?country=fr", "/data/places?country=fr"),
        ("/data/places?name__contains=a b", "/data/places?name__contains=a%20b"),
        ("/data/Zoë", "/data/Zo%C3%AB"),
        ("/data/places#frag", "/data/places#frag"),
        ("/data/-/query?sql=select+1", "/data/-/query?sql=select+1"),
        ("/@evil.example", "/@evil.example"),
    ],
)
def test_local_paths_are_kept_in_canonical_ascii(value, expected):
    assert local_path(value) == expected


def test_base_url_is_stripped_and_added_back():
    assert local_path("/prefix/data/places", "/prefix/") == "/data/places"
    assert local_path("/prefix", "/prefix/") == "/"
    assert local_path("/data/places", "/prefix/") == "/data/places"
    assert location_for("/data/places", "/prefix/") == "/prefix/data/places"
    assert location_for("/data/places") == "/data/places"
    with pytest.raises(UnsafeTarget):
        local_path("/prefix//evil.example", "/prefix/")


@pytest.mark.parametrize(
    "stored", ["//evil.example", "/\\evil", "https://evil.example", "/ok\r\nx", "/a b", "/%2F%2Fe"]
)
def test_location_rechecks_stored_targets(stored):
    with pytest.raises(UnsafeTarget):
        location_for(stored)


def test_normalize_makes_one_key_per_view():
    first = normalize("/data/places/?country=fr&_sort=name&_size=10")
    second = normalize("/data/places?_sort=name&country=fr&_next=5#top")
    assert first == second == "/data/places?_sort=name&country=fr"
    assert normalize("/prefix/data/places?b=1&a=2", "/prefix/") == "/data/places?a=2&b=1"
    # Repeated parameters keep their order: the facet order is visible on the page.
    assert normalize("/d/t?_facet=b&x=1&_facet=a") == "/d/t?_facet=b&_facet=a&x=1"


@pytest.mark.parametrize(
    "path,expected",
    [
        ("/", Target("instance")),
        ("/-/bookmarks", Target("instance")),
        ("/data", Target("database", "data")),
        ("/data.json", Target("database", "data")),
        ("/data?sql=select+1", Target("sql", "data")),
        ("/data/-/query?sql=select+1", Target("sql", "data")),
        ("/data/-/schema", Target("database", "data")),
        ("/data/places", Target("table", "data", "places")),
        ("/data/places.json?country=fr", Target("table", "data", "places")),
        ("/data/my~2Etable", Target("table", "data", "my.table")),
        ("/data/places/3", Target("row", "data", "places", "3")),
        ("/data/places/3.json", Target("row", "data", "places", "3")),
        ("/data/places/-/count", Target("table", "data", "places")),
    ],
)
def test_parse_target_reads_paths_like_the_router(path, expected):
    assert parse_target(path) == expected


URL_ALPHABET = st.sampled_from(
    list("/\\%25cCfF2e.:@?#&= \t\r\n\x00é~_-abjsx") + ["%2F", "%5C", "%2e"]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(URL_ALPHABET, max_size=12).map("".join))
def test_anything_accepted_is_a_same_origin_path(value):
    try:
        path = local_path(value)
    except UnsafeTarget:
        return
    location = location_for(path)
    decoded = unquote(unquote(unquote(location)))
    for form in (location, decoded):
        assert form.startswith("/") and not form.startswith("//")
        assert "\\" not in form
        assert not any(ord(char) < 0x20 for char in form)
    assert urlsplit(location).netloc == ""
    # What a browser would resolve it to stays on this origin.
    assert urljoin("https://datasette.example/x/", location).startswith(
        "https://datasette.example/"
    )
