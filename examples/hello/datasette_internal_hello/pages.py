"""The HTML page ``/-/hello``: a form to leave a greeting, and the greetings, newest first."""

from datasette.utils.asgi import Response
from datasette_internal_db import route, web

from .access import GREET
from .api import greet, page_of_greetings
from .settings import plugin


@route(methods=("GET", "POST"), action=GREET)
async def greetings_page(datasette, request):
    home = datasette.urls.path("/-/hello")
    if request.method == "POST":
        fields = await web.read_fields(request)
        await greet(datasette, request.actor, fields.get("text"))
        return Response.redirect(home, status=303)
    greetings, links = await page_of_greetings(datasette, request)
    breadcrumbs = [("Greetings", None)]
    if request.args.get("_next"):
        breadcrumbs = [("Greetings", home), ("Older greetings", None)]
    context = {
        "breadcrumbs": breadcrumbs,
        "greetings": greetings,
        "next_url": links["next_url"],
        "max_length": await plugin.settings.get(datasette, "max_length"),
    }
    html = await datasette.render_template(
        "datasette_internal_hello_greetings.html", context, request=request
    )
    return Response.html(html)
