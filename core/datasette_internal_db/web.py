"""Small request/response helpers every route of every plugin uses the same way."""

import json
import sqlite3

from datasette.utils.asgi import Response

from .errors import InvalidInput

MAX_BODY_BYTES = 1024 * 1024


def json_error(status, *errors):
    """Datasette's error shape: ``{"ok": false, "errors": [...]}``."""
    return Response.json({"ok": False, "errors": list(errors)}, status=status)


async def read_json_object(request, max_bytes=MAX_BODY_BYTES):
    """The request body as a JSON object, or InvalidInput with a message fit for a 400."""
    body = await request.post_body()
    if len(body) > max_bytes:
        raise InvalidInput(f"Request body is larger than {max_bytes} bytes")
    return parse_json_object(body)


def parse_json_object(body):
    """``body`` (bytes) as a JSON object, or InvalidInput with a message fit for a 400."""
    try:
        data = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidInput(f"Request body is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise InvalidInput("Request body must be a JSON object")
    try:
        # JSON may spell lone surrogates ("\ud800"), which are not text SQLite can store.
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput("Request body holds invalid Unicode (a lone surrogate)") from None
    return data


def wants_json(request, path_suffix=None):
    return bool(path_suffix) or "application/json" in request.headers.get("accept", "")


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
