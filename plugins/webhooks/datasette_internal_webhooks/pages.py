"""HTML pages: ``/-/webhooks`` (every endpoint), one outgoing endpoint with its deliveries, one
incoming endpoint with what it received. They only read; their buttons and dialogs call the
JSON API (static/webhooks.js)."""

import re

from datasette.utils.asgi import Response
from datasette_internal_db import clock, route

from . import store, store_deliveries
from .access import require_view
from .api import endpoint_json, endpoint_of, incoming_json, incoming_of, page_of
from .settings import plugin
from .state import get_state

JOB_ID = re.compile(r"[0-9a-f]{16}")


def moment(timestamp):
    """A unix time as the ISO text ``ui.time`` shows; None stays None."""
    return None if timestamp is None else clock.iso(timestamp)


async def render(datasette, request, template, context, trail):
    index = datasette.urls.path("/-/webhooks")
    breadcrumbs = [("Webhooks", index if trail else None), *trail]
    html = await datasette.render_template(
        template, {**context, "breadcrumbs": breadcrumbs, "moment": moment}, request=request
    )
    return Response.html(html)


@route()
async def index_page(datasette, request):
    can_manage = await require_view(datasette, request)
    counts = await store_deliveries.delivery_counts(datasette)
    outgoing = [endpoint_json(e, counts) for e in await store.list_endpoints(datasette)]
    incoming = [incoming_json(datasette, request, r) for r in await store.list_incoming(datasette)]
    context = {
        "endpoints": outgoing,
        "incoming": incoming,
        "event_names": get_state(datasette).event_names,
        "can_manage": can_manage,
        "paused": await plugin.settings.get(datasette, "paused"),
    }
    return await render(datasette, request, "datasette_internal_webhooks_index.html", context, [])


@route()
async def endpoint_page(datasette, request):
    can_manage = await require_view(datasette, request)
    endpoint = await endpoint_of(datasette, request)
    counts = await store_deliveries.delivery_counts(datasette)
    deliveries, links = await page_of(
        request,
        lambda before_id, limit: store_deliveries.list_deliveries(
            datasette, endpoint["id"], before_id=before_id, limit=limit
        ),
    )
    job_id = request.args.get("job")
    context = {
        "endpoint": endpoint_json(endpoint, counts),
        "deliveries": deliveries,
        "next_url": links["next_url"],
        "can_manage": can_manage,
        "job_id": job_id if job_id and JOB_ID.fullmatch(job_id) else None,
        "grace_hours": f"{get_state(datasette).options.rotation_grace_hours:g}",
        "now": clock.now(),
    }
    trail = [(endpoint["url"], None)]
    return await render(
        datasette, request, "datasette_internal_webhooks_endpoint.html", context, trail
    )


@route()
async def incoming_page(datasette, request):
    can_manage = await require_view(datasette, request)
    row = await incoming_of(datasette, request)
    received, links = await page_of(
        request,
        lambda before_id, limit: store.list_received(datasette, row["id"], before_id, limit),
    )
    context = {
        "incoming": incoming_json(datasette, request, store.incoming_from_row(row)),
        "received": received,
        "next_url": links["next_url"],
        "can_manage": can_manage,
    }
    trail = [(f"Incoming: {row['slug']}", None)]
    return await render(
        datasette, request, "datasette_internal_webhooks_incoming.html", context, trail
    )
