"""Request plumbing of the write routes: each takes a JSON object or a plain browser form
(core's ``web.read_fields``), and answers JSON, or a redirect to the form's same-site ``next``.

Core's ``route()`` gives every error answer (an HTML page for a browser's form post, also under
``/api/``; 409 for a ``Conflict`` such as a write on a deleted comment; 503 for a search past
Datasette's time limit).
"""

from datasette.utils.asgi import Forbidden, Response
from datasette_internal_db import wants_json
from datasette_internal_db.paths import UnsafePath, local_path
from datasette_internal_db.web import read_fields

from . import access

# A comment is at most 10,000 characters: a form (no JSON escapes) never needs more than this.
MAX_FORM_BYTES = 64 * 1024


async def read_input(request):
    """The body's fields: a JSON object or a browser form (``{}`` when empty)."""
    return await read_fields(request, max_form_bytes=MAX_FORM_BYTES)


def safe_next(value, fallback):
    """``value`` as a same-site path to go back to (core's local_path: percent-encoded ASCII);
    anything else, or anything that could leave the site, becomes ``fallback``.

    A fallback and not a 400: the write it follows has already been stored.
    """
    try:
        return local_path(value, name="next")
    except UnsafePath:
        return fallback


def require_actor(request):
    me = access.actor_id(request.actor)
    if me is None:
        raise Forbidden("Sign in to do this")
    return me


def reply_to(request, data, payload, fallback):
    """A browser's form post goes back to its ``next``; API clients get the JSON payload."""
    if not wants_json(request):
        return Response.redirect(safe_next(data.get("next"), fallback), status=303)
    return Response.json({"ok": True, **payload})
