"""Request plumbing of the write routes: each takes a JSON object or a plain browser form, and
answers JSON, or a redirect to the form's same-site ``next``.

Core's ``route()`` does the rest (methods, 400/403/404/413, storage errors). ``route_errors``
adds what it does not cover yet (written to /work/notes/comments-needs.md): an HTML error page
for a browser's form post under ``/api/``, 409 for a write on a deleted comment, 503 for a search
past Datasette's time limit.
"""

import functools
import urllib.parse

from datasette.database import QueryInterrupted
from datasette.utils.asgi import Forbidden, NotFound, Response
from datasette_internal_db import BodyTooLarge, InvalidInput, route
from datasette_internal_db.paths import UnsafePath, local_path
from datasette_internal_db.routing import wants_json
from datasette_internal_db.web import json_error, parse_json_object, read_body

from . import access

MAX_FORM_BYTES = 64 * 1024
FORM_FLAG = "datasette_internal_comments_form"


class Conflict(Exception):
    """A write the target's state refuses (a deleted comment): 409."""


def is_form(request):
    """Was this a browser form post? Known once ``read_input`` has looked at the body."""
    if FORM_FLAG in request.scope:
        return request.scope[FORM_FLAG]
    content_type = request.headers.get("content-type", "")
    return content_type.startswith("application/x-www-form-urlencoded")


def wants_redirect(request):
    return is_form(request) and "application/json" not in request.headers.get("accept", "")


def safe_next(value, fallback):
    """``value`` as a same-site path to go back to (core's local_path: percent-encoded ASCII);
    anything else, or anything that could leave the site, becomes ``fallback``.

    A fallback and not a 400: the write it follows has already been stored.
    """
    try:
        return local_path(value, name="next")
    except UnsafePath:
        return fallback


async def read_input(request):
    """The request's fields from a JSON object or a form body; ``{}`` for an empty body.

    ``curl -d '{...}'`` labels JSON as a form, so a body starting with ``{`` is read as JSON
    whatever its content type says.
    """
    body = await read_body(request)
    form = is_form(request) and not body.lstrip().startswith(b"{")
    request.scope[FORM_FLAG] = form
    if form:
        if len(body) > MAX_FORM_BYTES:
            raise BodyTooLarge(f"Form body is larger than {MAX_FORM_BYTES} bytes")
        try:
            return dict(urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            raise InvalidInput("Form body is not valid UTF-8") from None
    if not body.strip():
        return {}
    return parse_json_object(body)


def require_actor(request):
    me = access.actor_id(request.actor)
    if me is None:
        raise Forbidden("Sign in to do this")
    return me


def reply_to(request, data, payload, fallback):
    if wants_redirect(request):
        return Response.redirect(safe_next(data.get("next"), fallback), status=303)
    return Response.json({"ok": True, **payload})


# The first class an error is an instance of gives its status (BodyTooLarge is an InvalidInput).
STATUS = {NotFound: 404, Forbidden: 403, BodyTooLarge: 413, InvalidInput: 400}


def comments_route(methods=("GET",)):
    """Core's ``route(methods=...)`` around ``route_errors`` around the handler."""

    def decorate(handler):
        return route(methods=methods)(route_errors(handler))

    return decorate


def route_errors(handler):
    """Inside core's ``route()``: the error answers it does not give (see the module's doc)."""

    @functools.wraps(handler)
    async def wrapped(datasette, request):
        try:
            return await handler(datasette, request)
        except Conflict as error:
            status, message = 409, str(error)
        except QueryInterrupted:
            status, message = 503, "The search took too long; narrow the filters"
        except (NotFound, Forbidden, InvalidInput) as error:
            if not wants_redirect(request):
                raise
            status = next(code for kind, code in STATUS.items() if isinstance(error, kind))
            message = str(error)
        if wants_json(request) and not wants_redirect(request):
            return json_error(status, message)
        html = await datasette.render_template(
            ["datasette_internal_error.html"],
            {"status": status, "error": message, "title": f"Error {status}"},
            request=request,
        )
        return Response.html(html, status=status)

    return wrapped
