"""Small request/response helpers every route of every plugin uses the same way."""

import json

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
