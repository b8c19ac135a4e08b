"""Routes for plugin pages and JSON APIs: the plumbing every handler would otherwise repeat.

    @route(methods=("GET", "POST"), action="hello-greet")
    async def greetings_api(datasette, request):
        ...

- an unknown method → 405 with ``Allow``;
- ``action`` (and ``resource``, a function of the request) is checked before the handler runs:
  refused → 403;
- ``InvalidInput`` → 400 (413 for a body past its size limit, 409 for a ``Conflict``),
  ``NotFound`` → 404, ``Forbidden`` → 403, a query past Datasette's time limit → 503, a full
  disk or a locked database → 507 / 503, a write on a read node → 307 to the primary (503
  without one);
- errors are ``{"ok": false, "errors": [...]}`` for API clients (see ``wants_json``) and an
  error page for browsers.

Pagination follows Datasette's convention: ``?_size=`` and ``?_next=``, answered with ``next``
(the token) and ``next_url`` in JSON. A token is the sort key of the last row shown, its values
tilde-encoded and joined with commas, as Datasette's own table pages do.
"""

import inspect
import sqlite3
import urllib.parse

from datasette.database import QueryInterrupted
from datasette.utils import tilde_decode, tilde_encode
from datasette.utils.asgi import Forbidden, NotFound, Response

from .answers import recent_answers
from .errors import BodyTooLarge, Conflict, InvalidInput
from .readnode import ReadOnlyNode, refused_write_response
from .web import int_param, is_form_post, json_error, storage_error_response

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500

QUERY_TOO_SLOW = "The query took longer than the time limit allows; narrow it and try again"


def wants_json(request):
    """API clients: ``Accept: application/json``; a write whose body is not a browser form
    (see ``web.is_form_post``); a read of a ``.json`` or ``/api/`` path. Everyone else is a
    browser and gets pages: a form posted without JavaScript, also to an ``/api/`` path."""
    if "application/json" in request.headers.get("accept", ""):
        return True
    if request.method not in ("GET", "HEAD"):
        return not is_form_post(request)
    return request.path.endswith(".json") or "/api/" in request.path


async def error_response(datasette, request, status, message, headers=None):
    """``{"ok": false, "errors": [message]}`` for API clients, Datasette's error page otherwise."""
    if wants_json(request):
        response = json_error(status, message)
    else:
        html = await datasette.render_template(
            ["datasette_internal_error.html"],
            {"status": status, "error": message, "title": f"Error {status}"},
            request=request,
        )
        response = Response.html(html, status=status)
    response.headers.update(headers or {})
    return response


def route(*, methods=("GET",), action=None, resource=None):
    """Wrap ``handler(datasette, request)`` with the checks and error answers above."""
    methods = tuple(methods)

    def decorate(handler):
        async def checked(datasette, request):
            if request.method not in methods:
                return await error_response(
                    datasette,
                    request,
                    405,
                    f"Method {request.method} is not allowed here; use {', '.join(methods)}",
                    {"Allow": ", ".join(methods)},
                )
            try:
                if action is not None:
                    target = resource(request) if resource else None
                    if not await datasette.allowed(
                        action=action, resource=target, actor=request.actor
                    ):
                        raise Forbidden(f"Permission denied: {action} is required")
                return await handler(datasette, request)
            except BodyTooLarge as error:
                return await error_response(datasette, request, 413, str(error))
            except Conflict as error:
                return await error_response(datasette, request, 409, str(error))
            except InvalidInput as error:
                return await error_response(datasette, request, 400, str(error))
            except Forbidden as error:
                return await error_response(datasette, request, 403, str(error))
            except NotFound as error:
                return await error_response(datasette, request, 404, str(error))
            except QueryInterrupted:
                return await error_response(datasette, request, 503, QUERY_TOO_SLOW)
            except ReadOnlyNode as error:
                return refused_write_response(request, error)
            except sqlite3.OperationalError as error:
                response = storage_error_response(error)
                if response is None:
                    raise
                return response

        checked.__name__ = handler.__name__
        checked.__doc__ = handler.__doc__
        checked.__module__ = handler.__module__
        # Datasette picks a view's arguments with inspect.signature(view) on every request, which
        # builds (datasette, request) anew (~20 us, more than a short redirect's own work); a
        # stored __signature__ is returned as it is.
        checked.__signature__ = inspect.signature(checked)
        return checked

    return decorate


def page_size(request, default=DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE):
    """``?_size=`` as an int from 1 to ``maximum`` (``default`` when absent)."""
    return int_param(request, "_size", default, minimum=1, maximum=maximum)


def next_token(*values):
    """The ``_next`` token for a row whose sort key is ``values``."""
    return ",".join(tilde_encode(str(value)) for value in values)


def page_after(request, count):
    """``?_next=`` read back as its ``count`` text values, or None for the first page."""
    token = request.args.get("_next")
    if not token:
        return None
    values = [tilde_decode(part) for part in token.split(",")]
    if len(values) != count:
        raise InvalidInput(f"'_next' must hold {count} value(s); use the next_url of a page")
    return values


def page_links(request, token):
    """``{"next": token, "next_url": ...}``: the JSON every paged list answers with."""
    if token is None:
        return {"next": None, "next_url": None}
    args = urllib.parse.parse_qsl(request.query_string, keep_blank_values=True)
    kept = [(key, value) for key, value in args if key != "_next"]
    query = urllib.parse.urlencode([*kept, ("_next", token)])
    return {"next": token, "next_url": f"{request.path}?{query}"}


async def read_page(request, fetch, key=("id",), default=DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE):
    """One page of a list and its ``{"next", "next_url"}``: ``(rows, links)``.

    ``fetch(after, limit)`` returns up to ``limit`` rows in the list's order, after ``after``:
    the ``_next`` token's text values (one per ``key`` column; check them), or None for the
    first page. One row more than the page is asked for, so a page that ends the list has no
    ``next``. A token is made of the ``key`` columns of the page's last row.
    """
    size = page_size(request, default, maximum)
    rows = await fetch(page_after(request, len(key)), size + 1)
    token = next_token(*(rows[size - 1][column] for column in key)) if len(rows) > size else None
    return rows[:size], page_links(request, token)


def page_template_vars(datasette, request):
    """Core's names for plugin page templates (extra_template_vars): ``shows_home()``, whether
    breadcrumbs start with "home" (Datasette shows it to actors who may view-instance), answered
    from core's short-lived answers: the macro asks on every plugin page."""

    async def shows_home():
        actor = request.actor if request is not None else None
        return await recent_answers.allowed(datasette, "view-instance", actor)

    return {"datasette_internal_shows_home": shows_home}
