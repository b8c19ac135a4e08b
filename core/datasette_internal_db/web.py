"""Small request/response helpers every route of every plugin uses the same way."""

import json
import math
import re
import sqlite3

from datasette.utils.asgi import BadRequest, Request, Response

from .errors import BodyTooLarge, InvalidInput

MAX_BODY_BYTES = 1024 * 1024
# Far deeper than any real payload, far below where Python's json (about 1,000 with the default
# recursion limit) and SQLite's JSON functions (1,000) give up.
MAX_JSON_DEPTH = 100
MAX_SQLITE_INTEGER = 2**63 - 1
MIN_SQLITE_INTEGER = -(2**63)

# The body types of an HTML form post (a browser without JavaScript).
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_READ_AS_FORM = "datasette_internal_db.read_as_form"

_DECIMAL = re.compile(r"-?[0-9]{1,19}")
# A string up to its closing quote, or to the end when there is none: matching always succeeds
# where it starts, so a body of many quotes costs one pass, not one pass per quote.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")


def asset_url(plugin, name):
    """The URL of a plugin's static file for the ``extra_js_urls`` / ``extra_css_urls`` hooks:
    without ``base_url``, which Datasette adds to each such URL given as a plain string. Not
    ``datasette.urls.static_plugins()``: Datasette would prefix that one again only if it were
    a plain string, and as a ``PrefixedUrlString`` every method call on it lists ``dir(str)``."""
    return f"/-/static-plugins/{plugin}/{name}"


def json_response(payload, status=200):
    """``Response.json(payload)`` with its Content-Length. Without one the body goes out chunked:
    the chunk and then the end marker in a write of its own, which on a busy machine wakes the
    client twice. Same JSON, same headers otherwise."""
    body = json.dumps(payload).encode("utf-8")
    return Response(
        body,
        status=status,
        headers={"content-length": str(len(body))},
        content_type="application/json; charset=utf-8",
    )


def json_error(status, *errors):
    """Datasette's error shape: ``{"ok": false, "errors": [...]}``."""
    return json_response({"ok": False, "errors": list(errors)}, status=status)


async def read_body(request, max_bytes=MAX_BODY_BYTES):
    """The request body, read chunk by chunk from the ASGI stream.

    Raises BodyTooLarge (an InvalidInput) as soon as the body, or its declared Content-Length,
    passes ``max_bytes``: nothing past the limit is read into memory. A client that goes away
    before the end raises InvalidInput rather than handing back a truncated body.
    """
    too_large = BodyTooLarge(f"Request body is larger than {max_bytes} bytes")
    declared = request.headers.get("content-length", "")
    if re.fullmatch("[0-9]+", declared) and int(declared) > max_bytes:
        raise too_large
    chunks, size, more = [], 0, True
    while more:
        message = await request.receive()
        if message["type"] != "http.request":
            raise InvalidInput("The client went away before sending the whole request body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            raise too_large
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


async def read_json_object(request, max_bytes=MAX_BODY_BYTES):
    """The request body as a JSON object (see parse_json_object), or InvalidInput for a 400."""
    return parse_json_object(await read_body(request, max_bytes))


async def read_fields(request, max_bytes=MAX_BODY_BYTES, max_form_bytes=None):
    """The body's fields, from an HTML form (Datasette's own parser, urlencoded or multipart;
    the first value of each name) or a JSON object (see parse_json_object); ``{}`` when empty.
    ``BodyTooLarge`` past ``max_bytes``, or for a form past ``max_form_bytes`` if given.

    ``curl -d '{...}'`` labels JSON as a form, so a form body starting with ``{`` is read as
    JSON. Whether it was read as a form is then what ``is_form_post`` answers.
    """
    body = await read_body(request, max_bytes)
    form = is_form_post(request) and not body.lstrip().startswith(b"{")
    request.scope[_READ_AS_FORM] = form
    if not form:
        return parse_json_object(body) if body.strip() else {}
    if max_form_bytes is not None and len(body) > max_form_bytes:
        raise BodyTooLarge(f"Form body is larger than {max_form_bytes} bytes")

    async def replay():
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        fields = await Request(request.scope, replay).form(max_request_size=max_bytes)
    except BadRequest as error:
        raise InvalidInput(f"Form body could not be read: {error}") from None
    return {name: fields.get(name) for name in fields}


def is_form_post(request):
    """Is this a browser's form post? Its content type says so until ``read_fields`` has read
    the body; after that, whether the body was read as a form."""
    if _READ_AS_FORM in request.scope:
        return request.scope[_READ_AS_FORM]
    return request.method not in ("GET", "HEAD") and request.headers.get(
        "content-type", ""
    ).startswith(FORM_TYPES)


def parse_json_object(body):
    """``body`` (bytes) as a JSON object, or InvalidInput with a message fit for a 400.

    Accepts only what every store can keep: standard JSON (no NaN or Infinity), integers within
    SQLite's 64 bits, finite floats, no lone surrogates, nesting at most MAX_JSON_DEPTH deep.
    """
    try:
        # The decoding json.loads does for bytes (UTF-8, or UTF-16/32 by their first bytes).
        text = body.decode(json.detect_encoding(body), "surrogatepass") if body else "null"
    except UnicodeDecodeError as error:
        raise InvalidInput(f"Request body is not valid JSON: {error}") from None
    too_deep = f"Request body is nested more than {MAX_JSON_DEPTH} levels deep"
    if nesting_exceeds(text, MAX_JSON_DEPTH):
        raise InvalidInput(too_deep)
    try:
        data = json.loads(
            text, parse_constant=_refuse_constant, parse_float=_finite_float, parse_int=_sql_int
        )
    except RecursionError:
        raise InvalidInput(too_deep) from None
    except ValueError as error:
        raise InvalidInput(f"Request body is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise InvalidInput("Request body must be a JSON object")
    try:
        # JSON may spell lone surrogates ("\ud800"), which are not text SQLite can store.
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput("Request body holds invalid Unicode (a lone surrogate)") from None
    return data


def nesting_exceeds(text, limit):
    """Do the arrays and objects of JSON ``text`` nest deeper than ``limit``? Cheap: strings
    are cut out by one regex, and only the brackets left are counted."""
    brackets = _NOT_A_BRACKET.sub("", _JSON_STRING.sub("", text))
    if len(brackets) <= limit:
        return False
    depth = 0
    for bracket in brackets:
        depth += 1 if bracket in "[{" else -1
        if depth > limit:
            return True
    return False


def _refuse_constant(name):
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text):
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"the number {text[:30]} is too large")
    return number


def _sql_int(text):
    number = int(text)
    if not MIN_SQLITE_INTEGER <= number <= MAX_SQLITE_INTEGER:
        raise ValueError(f"the integer {text[:30]}... does not fit in 64 bits")
    return number


def parse_int(value, name, minimum=0, maximum=MAX_SQLITE_INTEGER):
    """``value`` (an int, or its ASCII decimal digits) as an int from ``minimum`` to ``maximum``.

    Anything else raises InvalidInput naming ``name``: text with spaces, ``_``, ``+`` or the
    digits of other scripts (all of which ``int()`` accepts), floats, booleans.
    """
    if isinstance(value, str) and _DECIMAL.fullmatch(value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise InvalidInput(f"'{name}' must be an integer from {minimum} to {maximum}")
    return value


def int_param(request, name, default=None, minimum=0, maximum=MAX_SQLITE_INTEGER):
    """Query parameter ``name`` checked by parse_int; ``default`` when it is absent or empty."""
    value = request.args.get(name)
    if value is None or value == "":
        return default
    return parse_int(value, name, minimum, maximum)


def storage_error_response(exception):
    """A clear JSON error for a write SQLite refused for lack of space or a lock, else None."""
    if not isinstance(exception, sqlite3.OperationalError):
        return None
    message = str(exception)
    if "database or disk is full" in message:
        return json_error(
            507,
            "The database is full (no disk space left, or its size limit was reached): "
            "nothing was stored. Try again once space is freed.",
        )
    if "database is locked" in message:
        response = json_error(503, "The database is busy: nothing was stored. Try again.")
        response.headers["Retry-After"] = "1"
        return response
    return None
