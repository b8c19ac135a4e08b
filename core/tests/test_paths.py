"""paths.local_path: the one check for every redirect target of every plugin."""

from urllib.parse import unquote, urljoin, urlsplit

import pytest
from datasette_internal_db.paths import UnsafePath, decoded_forms, local_path, location_for
from datasette_internal_db.testing import UNSAFE_REDIRECTS
from hypothesis import given, settings
from hypothesis import strategies as st


@pytest.mark.parametrize("value", UNSAFE_REDIRECTS)
def test_unsafe_redirect_corpus_is_refused(value):
    with pytest.raises(UnsafePath):
        local_path(value)


@pytest.mark.parametrize(
    "value,expected",
    [
        ("/", "/"),
        ("/data/places?country=fr", "/data/places?country=fr"),
        ("/data/places?name__contains=a b", "/data/places?name__contains=a%20b"),
        ("/data/Zoë", "/data/Zo%C3%AB"),
        ("/data/Zo%C3%AB", "/data/Zo%C3%AB"),
        ("/data/\u00a0x", "/data/%C2%A0x"),
        ("/data/places#frag", "/data/places#frag"),
        ("/data/-/query?sql=select+1", "/data/-/query?sql=select+1"),
        ("/@evil.example", "/@evil.example"),
    ],
)
def test_local_paths_are_kept_in_canonical_ascii(value, expected):
    assert local_path(value) == expected


def test_messages_name_the_field():
    with pytest.raises(UnsafePath, match="'next' must not start with //"):
        local_path("/%2F%2Fevil.example", name="next")


def test_base_url_is_stripped_and_added_back():
    assert local_path("/prefix/data/places", "/prefix/") == "/data/places"
    assert local_path("/prefix", "/prefix/") == "/"
    assert local_path("/data/places", "/prefix/") == "/data/places"
    assert location_for("/data/places", "/prefix/") == "/prefix/data/places"
    assert location_for("/data/places") == "/data/places"
    with pytest.raises(UnsafePath):
        local_path("/prefix//evil.example", "/prefix/")


@pytest.mark.parametrize(
    "stored",
    ["//evil.example", "/\\evil", "https://evil.example", "/ok\r\nx", "/a b", "/%2F%2Fe", "/é"],
)
def test_location_rechecks_stored_paths(stored):
    with pytest.raises(UnsafePath):
        location_for(stored)


URL_ALPHABET = st.sampled_from(
    list("/\\%25cCfF2e7.:@?#&= \t\r\n\x00\x7f\x85é~_-abjsx")
    + ["%2F", "%5C", "%2e", "%7F", "%C2%85", "%00", "\ud800", "\u2028"]
)


def assert_same_origin(value):
    try:
        path = local_path(value)
    except UnsafePath:
        return
    location = location_for(path)
    # What goes into the header is printable ASCII: no raw DEL, C1 or UTF-8 bytes.
    assert all(" " < char < "\x7f" for char in location), location
    decoded = unquote(unquote(unquote(location)))
    for form in (location, decoded):
        assert form.startswith("/") and not form.startswith("//")
        assert "\\" not in form
        assert not any(ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F for char in form)
    assert urlsplit(location).netloc == ""
    # What a browser would resolve it to stays on this origin.
    assert urljoin("https://datasette.example/x/", location).startswith(
        "https://datasette.example/"
    )


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.lists(URL_ALPHABET, max_size=12).map("".join))
def test_anything_accepted_is_a_same_origin_ascii_path(value):
    assert_same_origin(value)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(max_size=30).map(lambda text: "/" + text))
def test_any_text_after_a_slash_is_refused_or_made_safe(value):
    assert_same_origin(value)


def test_decoded_forms_are_each_layer_until_one_decodes_to_itself():
    assert list(decoded_forms("/-/%256C/x")) == ["/-/%256C/x", "/-/%6C/x", "/-/l/x"]
    assert list(decoded_forms("/plain")) == ["/plain"]
    with pytest.raises(UnsafePath, match="'next' is percent-encoded too many times"):
        list(decoded_forms("/%25252525" + "41", "next"))
