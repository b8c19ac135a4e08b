"""User-given URLs made into safe local paths, and paths read as the Datasette resource they show.

Everything here is pure string work: no database, no I/O. A path that passes ``local_path`` can
go into a ``Location`` header on this Datasette and nowhere else.
"""

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from datasette.utils import tilde_decode
from datasette_internal_db import InvalidInput

MAX_TARGET_LENGTH = 4096
# Characters kept as they are; everything else (space, non-ASCII, quotes, <>) is percent-encoded,
# so a stored target is plain printable ASCII.
URL_SAFE = "/?#[]@!$&'()*+,;=:-._~%"
MAX_DECODE_ROUNDS = 4
# Query parameters that change how a page is fetched or paged, not what it shows.
NOISE_PARAMS = {"_size", "_next", "_nocount", "_trace", "_timelimit", "_hide_sql", "_show_sql"}


class UnsafeTarget(InvalidInput):
    pass


CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _check_layer(layer):
    if CONTROL_CHARACTER.search(layer):
        raise UnsafeTarget("The link target contains control characters (CR, LF, tab...)")
    if "\\" in layer:
        raise UnsafeTarget("The link target contains a backslash")
    if not layer.startswith("/"):
        raise UnsafeTarget("The link target must be a local path starting with /")
    if layer.startswith("//"):
        raise UnsafeTarget("The link target must not start with // (that names another host)")
    parts = urlsplit(layer)
    if parts.scheme or parts.netloc:
        raise UnsafeTarget("The link target must be a local path, not a URL with a scheme or host")
    if any(segment in (".", "..") for segment in parts.path.split("/")):
        raise UnsafeTarget("The link target must not contain . or .. path segments")


def local_path(value, base_url="/"):
    """``value`` as a canonical local path without ``base_url``, or raise UnsafeTarget.

    Every percent-decoded form of the value is checked too, so ``/%2F%2Fevil`` and ``/%5Cevil``
    are refused like ``//evil`` and ``/\\evil``.
    """
    if not isinstance(value, str) or not value.strip():
        raise UnsafeTarget("The link target must be a non-empty string")
    if len(value) > MAX_TARGET_LENGTH:
        raise UnsafeTarget(f"The link target is longer than {MAX_TARGET_LENGTH} characters")
    check_decoded_forms(value)
    canonical = quote(value, safe=URL_SAFE)
    if base_url != "/" and (canonical + "/").startswith(base_url):
        canonical = "/" + canonical[len(base_url) :]
        check_decoded_forms(canonical)
    return canonical


def check_decoded_forms(value):
    layer = value
    for _ in range(MAX_DECODE_ROUNDS):
        _check_layer(layer)
        decoded = unquote(layer)
        if decoded == layer:
            return
        layer = decoded
    raise UnsafeTarget("The link target is percent-encoded too many times")


def location_for(target, base_url="/"):
    """The ``Location`` value for a stored target; re-checked, never trusted from the DB."""
    check_decoded_forms(target)
    if target != quote(target, safe=URL_SAFE):
        raise UnsafeTarget("The stored link target is not in canonical form")
    return base_url.rstrip("/") + target if base_url != "/" else target


def normalize(value, base_url="/"):
    """The key that makes two URLs of one view the same bookmark.

    Drops the fragment, a trailing slash and paging noise (``_size``, ``_next``...), and sorts
    parameters by name (values of one name keep their order: ``_facet`` order is visible).
    """
    path = local_path(value, base_url)
    parts = urlsplit(path)
    page = parts.path.rstrip("/") or "/"
    pairs = [
        (key, item)
        for key, item in parse_qsl(parts.query, keep_blank_values=True)
        if key not in NOISE_PARAMS
    ]
    pairs.sort(key=lambda pair: pair[0])
    query = urlencode(pairs, quote_via=quote)
    normalized = page + ("?" + query if query else "")
    check_decoded_forms(normalized)
    return normalized


@dataclass(frozen=True)
class Target:
    """What a local path shows: kind is instance, database, sql, table (or stored query), row."""

    kind: str
    database: str | None = None
    name: str | None = None
    row: str | None = None


FORMAT_SUFFIX = re.compile(r"\.\w+$")


def _decode_segment(segment):
    return tilde_decode(unquote(FORMAT_SUFFIX.sub("", segment)))


def parse_target(path):
    """Read a canonical local path the way Datasette's router does (see ``Datasette._routes``).

    ``table`` may turn out to be a stored query: ``store.resolve_target`` asks the catalog.
    """
    parts = urlsplit(path)
    segments = [segment for segment in parts.path.split("/") if segment]
    params = dict(parse_qsl(parts.query))
    if not segments or segments[0] == "-" or segments[0].startswith("-"):
        return Target("instance")
    database = _decode_segment(segments[0])
    if len(segments) == 1:
        return Target("sql" if params.get("sql") else "database", database)
    if segments[1] == "-":
        is_query = len(segments) > 2 and segments[2].startswith("query")
        return Target("sql" if is_query and params.get("sql") else "database", database)
    name = _decode_segment(segments[1])
    if len(segments) == 2 or segments[2] == "-":
        return Target("table", database, name)
    if len(segments) == 3:
        return Target("row", database, name, unquote(FORMAT_SUFFIX.sub("", segments[2])))
    return Target("table", database, name)
