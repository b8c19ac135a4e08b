"""Demo only: sign in as one of the demo people with one click. Never install this elsewhere."""

from datasette import hookimpl
from datasette.utils.asgi import Response

DEMO_PEOPLE = {
    "alice": {"id": "alice", "name": "Alice (demo)", "email": "alice@example.invalid"},
    "bob": {"id": "bob", "name": "Bob (demo)", "email": "bob@example.invalid"},
}


async def sign_in(datasette, request):
    actor = DEMO_PEOPLE[request.url_vars["who"]]
    response = Response.redirect(datasette.urls.instance())
    datasette.set_actor_cookie(response, actor)
    return response


@hookimpl
def register_routes():
    return [(r"^/-/demo/sign-in/(?P<who>alice|bob)$", sign_in)]


@hookimpl
def actors_from_ids(actor_ids):
    # Names and email addresses for comments (mentions, emails to the demo's mail sink).
    return {i: DEMO_PEOPLE[i] for i in actor_ids if i in DEMO_PEOPLE}
