"""Bookmark URLs made into one key per view, and local paths read as the resource they show.

Everything here is pure string work: no database, no I/O. Whether a path is safe to store and
redirect to is core's ``paths.local_path``, the one check every plugin uses.
"""

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from datasette.utils import tilde_decode
from datasette_internal_db.paths import check_decoded_forms, decoded_forms, local_path

SHORT_LINK_PREFIX = "/-/l/"


def names_a_short_link(path):
    """Whether ``path`` is a short link in any of its percent-decoded forms: ``/-/%6C/abc`` is
    another route to Datasette, but a proxy that decodes paths before passing them on would
    follow it as ``/-/l/abc``."""
    return any(form.startswith(SHORT_LINK_PREFIX) for form in decoded_forms(path))


# Query parameters that change how a page is fetched or paged, not what it shows.
NOISE_PARAMS = {"_size", "_next", "_nocount", "_trace", "_timelimit", "_hide_sql", "_show_sql"}


def normalize(value, base_url="/"):
    """The key that makes two URLs of one view the same bookmark.

    Drops the fragment, a trailing slash and paging noise (``_size``, ``_next``...), and sorts
    parameters by name (values of one name keep their order: ``_facet`` order is visible).
    """
    path = local_path(value, base_url, name="url")
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
    check_decoded_forms(normalized, "url")
    return normalized


@dataclass(frozen=True)
class Target:
    """What a local path shows: kind is instance, database, sql, table (or stored query), row."""

    kind: str
    database: str | None = None
    name: str | None = None
    row: str | None = None


def stored_target(row):
    """The Target a stored bookmark or short link was resolved to when it was saved."""
    return Target(
        row["resource_kind"],
        row["resource_database"],
        row["resource_name"],
        row.get("resource_row"),
    )


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
