"""The JSON API: ``GET /-/hello/api/greetings`` lists greetings newest first, ``POST`` adds one."""

from datasette.utils.asgi import Forbidden, Response
from datasette_internal_db import InvalidInput, read_page, route, web

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
    """The greetings ``?_size=`` and ``?_next=`` ask for, and the links to the next page."""

    async def fetch(after, limit):
        before_id = web.parse_int(after[0], "_next") if after else None
        return await store.list_greetings(datasette, limit, before_id)

    return await read_page(request, fetch, key=("id",), default=20, maximum=100)


@route(methods=("GET", "POST"), action=GREET)
async def greetings_api(datasette, request):
    if request.method == "POST":
        data = await web.read_json_object(request)
        if set(data) != {"text"}:
            raise InvalidInput('The body must be {"text": "..."} and nothing else')
        greeting = await greet(datasette, request.actor, data["text"])
        return Response.json({"ok": True, "greeting": greeting}, status=201)
    greetings, links = await page_of_greetings(datasette, request)
    return Response.json({"ok": True, "greetings": greetings, **links})
