"""Core's request helpers: the body reader, JSON parsing, integer parameters, FTS queries."""

import json
import sqlite3

import pytest
from datasette.utils.asgi import Request
from datasette_internal_db import BodyTooLarge, InvalidInput, audit
from datasette_internal_db.text import fts_query
from datasette_internal_db.web import (
    MAX_JSON_DEPTH,
    int_param,
    parse_int,
    parse_json_object,
    read_body,
    read_json_object,
)
from hypothesis import given, settings
from hypothesis import strategies as st

ROOT = {"id": "root"}


def streamed(chunks, headers=()):
    """A request whose body arrives in ``chunks``; ``receive.calls`` counts what was read."""
    messages = [
        {"type": "http.request", "body": chunk, "more_body": n < len(chunks) - 1}
        for n, chunk in enumerate(chunks)
    ]

    async def receive():
        receive.calls += 1
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    receive.calls = 0
    scope = {"type": "http", "method": "POST", "headers": [(k, v) for k, v in headers]}
    return Request(scope, receive), receive


# --- the body reader ---------------------------------------------------------------------------


async def test_read_body_stops_reading_at_the_limit():
    request, receive = streamed([b"x" * 600, b"x" * 600, b"x" * 600])
    with pytest.raises(BodyTooLarge, match="larger than 1000 bytes"):
        await read_body(request, max_bytes=1000)
    assert receive.calls == 2


async def test_read_body_refuses_a_declared_length_past_the_limit_without_reading():
    request, receive = streamed([b"{}"], headers=[(b"content-length", b"5000")])
    with pytest.raises(BodyTooLarge):
        await read_body(request, max_bytes=1000)
    assert receive.calls == 0


async def test_read_body_joins_chunks_and_refuses_a_truncated_body():
    request, _ = streamed([b'{"a"', b": 1}"])
    assert await read_json_object(request) == {"a": 1}
    request, receive = streamed([b'{"a"'])
    receive_first = receive

    async def then_disconnect():
        message = await receive_first()
        return dict(message, more_body=True) if receive_first.calls == 1 else message

    request.receive = then_disconnect
    with pytest.raises(InvalidInput, match="went away"):
        await read_body(request)


async def test_a_body_past_the_limit_is_a_413_with_the_usual_shape(ds):
    response = await ds.client.post(
        "/-/internal/settings", content=b" " * (1024 * 1024 + 1), actor=ROOT
    )
    assert response.status_code == 413
    assert response.json() == {"ok": False, "errors": ["Request body is larger than 1048576 bytes"]}


# --- JSON bodies -------------------------------------------------------------------------------


def nested(depth):
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize(
    "body",
    [
        nested(100_000),
        b'{"a": ' + nested(5_000) + b"}",
        b'{"a": ' + b'{"b": ' * 1000 + b"1" + b"}" * 1000 + b"}",
        b"[" * 100_000,
    ],
)
async def test_deeply_nested_json_is_a_clear_400(ds, body):
    response = await ds.client.post("/-/internal/settings", content=body, actor=ROOT)
    assert response.status_code == 400, response.text[:200]
    assert "nested more than 100 levels" in response.json()["errors"][0]


def test_nesting_up_to_the_limit_is_fine_and_strings_do_not_count():
    # The object, 98 arrays, then arrays of empty arrays: exactly MAX_JSON_DEPTH levels.
    deep = "[" * (MAX_JSON_DEPTH - 2) + "[], []" + "]" * (MAX_JSON_DEPTH - 2)
    assert parse_json_object(f'{{"a": {deep}}}'.encode())["a"]
    brackets = json.dumps({"text": "[" * 5000 + '\\"{' * 500})
    assert parse_json_object(brackets.encode())["text"].startswith("[[[")
    with pytest.raises(InvalidInput, match="nested"):
        parse_json_object(b'{"a": ' + nested(MAX_JSON_DEPTH) + b"}")


@pytest.mark.parametrize(
    "body, message",
    [
        (b'{"a": NaN}', "NaN is not a JSON number"),
        (b'{"a": -Infinity}', "-Infinity is not a JSON number"),
        (b'{"a": 1e400}', "too large"),
        (b'{"a": 9223372036854775808}', "does not fit in 64 bits"),
        (b'{"a": -9223372036854775809}', "does not fit in 64 bits"),
        (b'{"a": ' + b"9" * 5000 + b"}", "not valid JSON"),
        (b'{"a": "\\ud800"}', "lone surrogate"),
        (b'{"a": 1', "not valid JSON"),
        (b"\xff\xfe\x00", "not valid JSON"),
        (b"[1]", "must be a JSON object"),
    ],
)
def test_json_that_no_store_can_keep_is_refused(body, message):
    with pytest.raises(InvalidInput, match=message):
        parse_json_object(body)


def test_the_largest_sqlite_integers_and_utf16_bodies_are_fine():
    body = b'{"a": 9223372036854775807, "b": -9223372036854775808, "c": 1e308}'
    assert parse_json_object(body) == {"a": 2**63 - 1, "b": -(2**63), "c": 1e308}
    assert parse_json_object('{"a": "é"}'.encode("utf-16")) == {"a": "é"}


# --- integer parameters ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["١٢", "²", "1_000", " 1", "1 ", "+1", "1\n", "0x10", "1.0", "1e3", "", True, 1.5, None],
)
def test_parse_int_takes_only_ascii_digits_and_ints(value):
    with pytest.raises(InvalidInput, match="'n' must be an integer from 0 to"):
        parse_int(value, "n")


def test_parse_int_bounds():
    assert parse_int("0", "n") == 0
    assert parse_int("9223372036854775807", "n") == 2**63 - 1
    assert parse_int(-5, "n", minimum=-10) == -5
    for value in ("9223372036854775808", "-1", 2**63, "9" * 400):
        with pytest.raises(InvalidInput):
            parse_int(value, "n")
    with pytest.raises(InvalidInput, match="from 1 to 200"):
        parse_int("201", "limit", minimum=1, maximum=200)


def test_int_param_reads_the_query_string():
    request = Request.fake("/x?before=12&_size=&limit=abc")
    assert int_param(request, "before") == 12
    assert int_param(request, "_size", 100) == 100
    assert int_param(request, "missing", 7) == 7
    with pytest.raises(InvalidInput, match="'limit'"):
        int_param(request, "limit")


@pytest.mark.parametrize("suffix", ["", ".json"])
@pytest.mark.parametrize(
    "query",
    [
        "before=9223372036854775808",
        "before=" + "9" * 5000,
        "before=-1",
        "before=%D9%A1",
        "_size=9223372036854775808",
        "_size=0",
        "_size=501",
        "_size=%C2%B2",
    ],
)
async def test_audit_log_answers_400_for_out_of_range_integers(ds, suffix, query):
    response = await ds.client.get(f"/-/internal/audit{suffix}?{query}", actor=ROOT)
    assert response.status_code == 400, response.text[:300]
    if suffix:
        assert response.json()["ok"] is False
    else:  # a browser gets the error as a page
        assert "text/html" in response.headers["content-type"]


async def test_audit_entries_refuse_a_cursor_sqlite_cannot_bind(ds):
    with pytest.raises(InvalidInput):
        await audit.entries(ds, before_id=2**63)


# --- runtime settings: every field's type ------------------------------------------------------

WRONG_TYPES = [None, True, 1, 2**70, 1.5, [], ["x"], {"a": 1}]


@pytest.mark.parametrize("value", WRONG_TYPES)
@pytest.mark.parametrize("field", ["plugin", "key", "reset"])
async def test_settings_api_refuses_wrong_types_in_every_field(ds, field, value):
    body = {"plugin": "datasette-internal-db", "key": "audit_retention_days", "value": 30}
    if field == "reset":
        body = {"plugin": "datasette-internal-db", "key": "audit_retention_days"}
        if isinstance(value, bool):
            return  # true and false are the two right answers
    body[field] = value
    content = json.dumps(body).encode()
    response = await ds.client.post("/-/internal/settings", content=content, actor=ROOT)
    assert response.status_code == 400, (field, value, response.text[:300])
    assert response.json()["ok"] is False


async def test_settings_api_key_as_a_list_is_a_400_not_a_500(ds):
    response = await ds.client.post(
        "/-/internal/settings",
        json={"plugin": "datasette-internal-db", "key": [], "value": 1},
        actor=ROOT,
    )
    assert response.status_code == 400
    assert response.json() == {
        "ok": False,
        "errors": ["'key' must be a string: the name of a setting"],
    }


@pytest.mark.parametrize(
    "body",
    [
        {"plugin": "datasette-internal-db", "key": "audit_retention_days"},
        {
            "plugin": "datasette-internal-db",
            "key": "audit_retention_days",
            "value": 1,
            "reset": True,
        },
        {"plugin": "datasette-internal-db", "key": "audit_retention_days", "value": 1, "x": 1},
        {
            "plugin": "datasette-internal-db",
            "key": "audit_retention_days",
            "value": 2**63 - 1 + 0.0,
        },
    ],
)
async def test_settings_api_refuses_odd_combinations(ds, body):
    response = await ds.client.post("/-/internal/settings", json=body, actor=ROOT)
    assert response.status_code == 400, response.text


# --- full-text search queries ------------------------------------------------------------------


@pytest.fixture(scope="module")
def fts():
    conn = sqlite3.connect(":memory:")
    conn.execute("create virtual table docs using fts5(body)")
    conn.executemany(
        "insert into docs values (?)",
        [("otters and herons",), ('say "hi" to NEAR(x)',), ("Zoë ١٢٣",)],
    )
    yield conn
    conn.close()


def search(conn, text):
    query = fts_query(text)
    if query is None:
        return None
    return [row[0] for row in conn.execute("select body from docs where docs match ?", [query])]


@pytest.mark.parametrize(
    "text",
    [
        "\x00",
        "otters\x00",
        "\x00otters",
        "\x01\x02\x1f\x7f\x85\x9f",
        '"',
        '"otters',
        "otters'",
        "'",
        "\\",
        "AND",
        "otters OR",
        "NOT herons",
        "NEAR(",
        "NEAR(x",
        "*",
        "otter*",
        "^otters",
        "body:otters",
        "-otters",
        "(",
        ")",
        "{body}: x",
        "+",
        "\ud800",
        "\u2028",
        "",
        "   ",
    ],
)
def test_any_text_is_a_valid_fts_query(fts, text):
    search(fts, text)


def test_fts_words_match_literally_and_control_characters_split_words(fts):
    assert search(fts, "otters\x00herons") == ["otters and herons"]
    assert search(fts, "NEAR(x)") == ['say "hi" to NEAR(x)']
    assert search(fts, '"hi"') == ['say "hi" to NEAR(x)']
    assert search(fts, "\x00") is None


@settings(max_examples=500, deadline=None, derandomize=True)
@given(
    st.text(max_size=40)
    | st.lists(st.sampled_from(['"', "\x00", "*", "(", "OR", " ", "a"])).map("".join)
)
def test_no_text_breaks_the_fts_query(fts, text):
    search(fts, text)
