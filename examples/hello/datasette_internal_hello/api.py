"""The JSON API: ``GET /-/hello/api/greetings`` lists greetings newest first, ``POST`` adds one."""

from datasette.utils.asgi import Forbidden, Response
from datasette_internal_db import (
    InvalidInput,
    next_token,
    page_after,
    page_links,
    page_size,
    route,
    web,
)

from . import store
from .access import GREET
from .events import GreetingAddedEvent
from .settings import plugin


async def greet(datasette, actor, text):
    """The one way a greeting is added, from the API or the page: store, audit, fire the event."""
    if not actor or actor.get("id") is None:
        raise Forbidden("Sign in to leave a greeting")
    greeting = await store.add_greeting(datasette, actor["id"], text)
    await plugin.audit.record(
        datasette, "greeting-add", actor=actor, resource=f"greeting/{greeting['id']}"
    )
    await datasette.track_event(GreetingAddedEvent(actor=actor, greeting_id=greeting["id"]))
    return greeting


async def page_of_greetings(datasette, request):
    """The greetings ``?_size=`` and ``?_next=`` ask for, and the ``_next`` token after them."""
    size = page_size(request, default=20, maximum=100)
    after = page_after(request, 1)
    before_id = web.parse_int(after[0], "_next") if after else None
    greetings = await store.list_greetings(datasette, size + 1, before_id)
    token = next_token(greetings[size - 1]["id"]) if len(greetings) > size else None
    return greetings[:size], token


@route(methods=("GET", "POST"), action=GREET)
async def greetings_api(datasette, request):
    if request.method == "POST":
        data = await web.read_json_object(request)
        if set(data) != {"text"}:
            raise InvalidInput('The body must be {"text": "..."} and nothing else')
        greeting = await greet(datasette, request.actor, data["text"])
        return Response.json({"ok": True, "greeting": greeting}, status=201)
    greetings, token = await page_of_greetings(datasette, request)
    return Response.json({"ok": True, "greetings": greetings, **page_links(request, token)})
