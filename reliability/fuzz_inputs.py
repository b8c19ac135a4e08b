"""What the fuzz tests send: hostile values, and hypothesis strategies built from them.

Every list here is used for every JSON route and every query parameter by test_fuzz_api.py.
"""

import json
import urllib.parse

from hypothesis import strategies as st

HUGE = ["x" * 300_000, "é" * 70_000, "\U0001f600" * 20_000, "<b>" * 30_000, "9" * 5000]
CONTROL_TEXT = [
    "\x00",
    "a\x00b",
    "\x01\x02\x1f",
    "\x1b[31m",
    "\x7f",
    "\x85",
    "\x9f",
    "\u2028",
    "\n\r\t",
    "\n",
]
TRAILING_NEWLINES = ["abc\n", "fuzz-in\n", "data\n", "species\r\n", "1\n", "alice\n", "\nabc"]
# Other scripts' digits and look-alike letters, where an identifier or a number is expected.
CONFUSABLES = [
    "١٢٣",  # Arabic-Indic
    "１２３",  # fullwidth
    "𝟏𝟐𝟑",  # mathematical bold
    "²",
    "߁",
    "১",
    "1_000",
    "+1",
    " 1",
    "ｄａｔａ",  # fullwidth letters
    "dаta",  # Cyrillic a
    "DATA",
    "spеcies",  # Cyrillic e
    "data\u200b",  # zero-width space
    "İ",
    "ﬁ",
    "\u202eevil",
]
ODD_TEXT = [
    "",
    " ",
    "\ud800",
    "\udfff\ud800",
    "../../etc/passwd",
    "//evil.example",
    "/%2F%2Fevil.example",
    "javascript:alert(1)",
    "%00",
    "' or 1=1 --",
    '"',
    "[species]",
    "NEAR(",
    "a OR b",
    "*",
    "Ω≈ç√∫",
    *CONTROL_TEXT,
    *TRAILING_NEWLINES,
    *CONFUSABLES,
]
PLAUSIBLE = [
    "data",
    "species",
    "secret",
    "1",
    "2",
    "*",
    "/data/species",
    "/data/species/1",
    "root",
    "+1",
    "standard",
    "comment-added",
]
# Numbers past what SQLite stores (64 bits), and floats JSON cannot spell (json.dumps writes
# NaN and Infinity anyway, as a careless client would).
ODD_NUMBERS = [
    0,
    -1,
    2**63,
    -(2**63) - 1,
    2**64,
    10**30,
    10**400,
    1e308,
    float("inf"),
    float("-inf"),
    float("nan"),
    1.5,
    True,
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=40),
    st.sampled_from(HUGE + ODD_TEXT + PLAUSIBLE + ODD_NUMBERS),
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


def deep(depth, opener="[", closer="]"):
    return opener * depth + closer * depth


# JSON text that json.dumps would not write: nesting past any parser's recursion, numbers past
# a float, integers past 64 bits, escaped lone surrogates and NULs, a string with a newline.
RAW_VALUES = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e400",
    "-1e400",
    "1" + "0" * 400,
    "18446744073709551616",
    "-9223372036854775809",
    deep(100_000),
    '{"a":' * 5000 + "1" + "}" * 5000,
    '"\\ud800"',
    '"\\udfff\\ud800x"',
    '"a\\u0000b"',
    '"abc\\n"',
    '"\\u0085"',
]
DEEP_BODIES = [
    deep(100_000).encode(),
    ("{" + '"a":{' * 100_000 + "}" * 100_001).encode(),
    b"[" * 100_000,
    b'{"x": ' + deep(2000).encode() + b"}",
]
# A value of a wrong JSON type, or a hostile one, for every field (strings where lists are
# expected and the other way round: every field gets all of them).
FIELD_VALUES = [
    None,
    True,
    False,
    0,
    -1,
    2**63,
    10**30,
    1e308,
    [],
    ["x"],
    [[["x"]]],
    {},
    {"a": 1},
    "",
    "x" * 70_000,
    *ODD_TEXT,
]

# Path parameters: ids and codes that are not quite ids and codes.
ODD_IDS = [
    "0",
    "1",
    "2",
    "9" * 25,
    "9223372036854775808",
    "-1",
    "1.0",
    "1e3",
    "%2e%2e",
    "a",
    "ep_",
    "in_",
    "0" * 300,
    "abc\n",
    "fuzz-in\n",
    *CONFUSABLES[:6],
    *CONTROL_TEXT[:3],
]
SWEEP_IDS = [
    "0",
    "9" * 25,
    "9223372036854775808",
    "١",
    "１",
    "1e3",
    "%2e%2e",
    "0" * 300,
    "\u202eevil",
    "../../etc/passwd",
    "\n",
    "1\n",
    "fuzz-in\n",
    "\x00",
]

# Query values (text: percent-encoded when sent) and already-encoded bytes that are not UTF-8
# text (a lone surrogate's UTF-8 form, an overlong slash, a lone byte), sent as they are.
INTEGER_TEXT = [
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551616",
    "9" * 5000,
    "1e400",
    "NaN",
    "Infinity",
    "-0",
    "0x10",
    "5\n",
]


def encodable(text):
    """False for text holding a lone surrogate, which no URL or form can carry."""
    return not any(0xD800 <= ord(char) <= 0xDFFF for char in text)


QUERY_VALUES = ["x" * 4000, *filter(encodable, ODD_TEXT), *PLAUSIBLE, *INTEGER_TEXT]
RAW_QUERY_VALUES = ["%ED%A0%80", "%ED%B0%80%ED%A0%80", "%FF", "%C0%AF", "%C0%80", "%", "%zz"]

query_value = st.one_of(
    st.text(max_size=30).map(lambda text: urllib.parse.quote(text, safe="")),
    st.sampled_from(QUERY_VALUES).map(lambda text: urllib.parse.quote(text, safe="")),
    st.sampled_from(RAW_QUERY_VALUES),
)


# Datasette's paging parameters: every read route gets them, whether it pages or not.
PAGING_PARAMS = ["_size", "_next"]


def query_strings(names):
    """Query strings over ``names`` (a name may repeat), already percent-encoded."""
    pair = st.tuples(st.sampled_from(names + PAGING_PARAMS), query_value)
    return st.lists(pair, max_size=len(names) + 1).map(
        lambda pairs: "&".join(f"{name}={value}" for name, value in pairs)
    )


def bodies(fields):
    """A request body and content type: raw bytes, any JSON, an object with known fields (any
    JSON or JSON text json.dumps would not write), a form, or JSON nested 100,000 deep."""
    known_object = st.dictionaries(st.sampled_from(fields), json_values, max_size=len(fields))
    raw_field = st.tuples(st.sampled_from(fields), st.sampled_from(RAW_VALUES)).map(
        lambda pair: f"{{{json.dumps(pair[0])}: {pair[1]}}}".encode()
    )
    return st.one_of(
        st.tuples(st.binary(max_size=300), st.sampled_from(["application/json", None])),
        st.tuples(json_values.map(json.dumps).map(str.encode), st.just("application/json")),
        st.tuples(
            known_object.map(lambda data: json.dumps(data).encode()),
            st.sampled_from(["application/json", None, "text/plain"]),
        ),
        st.tuples(raw_field, st.just("application/json")),
        st.tuples(st.sampled_from(DEEP_BODIES), st.sampled_from(["application/json", None])),
        st.tuples(
            st.dictionaries(
                st.sampled_from(fields),
                st.text(max_size=30) | st.sampled_from(list(filter(encodable, ODD_TEXT))),
                max_size=len(fields),
            )
            .map(urllib.parse.urlencode)
            .map(str.encode),
            st.just("application/x-www-form-urlencoded"),
        ),
    )


# The sweeps of the short profile (inside `nox -s tests`) send one value of each class; the long
# profile sends every value above.
SHORT_FIELD_VALUES = [None, True, 2**63, 1e308, [], ["x"], {"a": 1}, "x" * 70_000, "\ud800"]
SHORT_FIELD_VALUES += ["abc\n", "١٢٣", "ｄａｔａ", "\x00", "\x85", "//evil.example"]
SHORT_RAW_VALUES = ["NaN", "-Infinity", "1e400", "18446744073709551616", deep(100_000)]
SHORT_RAW_VALUES += ['"\\ud800"', '"a\\u0000b"']
SHORT_QUERY_VALUES = ["", "\x00", "a\x00b", "\x7f", "\x85", "\n", "abc\n", "١٢٣", "１２３", "²"]
SHORT_QUERY_VALUES += ["1_000", "+1", "9223372036854775808", "-9223372036854775809", "9" * 5000]
SHORT_QUERY_VALUES += ["1e400", "NaN", '"', "NEAR(", "x" * 4000]
SHORT_RAW_QUERY_VALUES = ["%ED%A0%80", "%FF", "%"]
