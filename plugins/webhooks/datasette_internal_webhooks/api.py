"""The JSON admin API under ``/-/webhooks/api/``: outgoing endpoints and their delivery log,
incoming endpoints and what they received. Lists page the Datasette way (``?_size=``,
``?_next=``; ``next`` and ``next_url`` in the answer)."""

import datetime
import json
import re

from datasette.utils.asgi import NotFound, Response
from datasette_internal_db import InvalidInput, read_page, route
from datasette_internal_db.web import parse_int, read_json_object

from . import endpoints, store, store_deliveries
from .access import MANAGE, require_manage, require_view
from .state import get_state

MAX_TIMESTAMP = 253402300799  # 9999-12-31T23:59:59Z
ENDPOINT_ID = re.compile(r"ep_[0-9a-f]{1,32}")
STATUSES = ("pending", "succeeded", "failed")


def parse_since(value):
    """A unix timestamp or an ISO-8601 time (UTC unless it says otherwise) as a float, from
    1970 to the end of 9999."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        since = value
    elif isinstance(value, str) and value:
        try:
            moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput("since must be an ISO-8601 time or a unix timestamp") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.timezone.utc)
        since = moment.timestamp()
    else:
        raise InvalidInput("since is required: an ISO-8601 time or a unix timestamp")
    if not 0 <= since <= MAX_TIMESTAMP:
        raise InvalidInput("since must be a time from 1970 to the end of 9999")
    return float(since)


async def page_of(request, list_rows):
    """One page of a newest-first list keyed by ``id``, and its ``{"next", "next_url"}``.
    ``list_rows(before_id, limit)`` returns the rows."""

    async def fetch(after, limit):
        return await list_rows(None if after is None else parse_int(after[0], "_next"), limit)

    return await read_page(request, fetch)


async def paged_answer(request, key, list_rows):
    """The JSON answer of a list route: one page (see page_of), ``next`` and ``next_url``."""
    rows, links = await page_of(request, list_rows)
    return Response.json({"ok": True, key: rows, **links})


def endpoint_json(endpoint, counts=None):
    result = dict(endpoint)
    result["managed_by_config"] = result.pop("config_key") is not None
    if counts is not None:
        result["deliveries"] = counts.get(endpoint["id"], {})
    return result


def incoming_json(datasette, request, incoming):
    path = datasette.urls.path(f"/-/webhooks/in/{incoming['slug']}")
    return dict(incoming, url=datasette.absolute_url(request, path))


async def endpoint_of(datasette, request):
    endpoint = await store.get_endpoint(datasette, request.url_vars["endpoint_id"])
    if endpoint is None:
        raise NotFound("Endpoint not found")
    return endpoint


async def incoming_of(datasette, request):
    row = await store.get_incoming(datasette, request.url_vars["incoming_id"])
    if row is None:
        raise NotFound("Incoming endpoint not found")
    return row


async def delivery_of(datasette, request):
    delivery = await store_deliveries.get_delivery(datasette, int(request.url_vars["delivery_id"]))
    if delivery is None:
        raise NotFound("Delivery not found")
    return delivery


async def endpoint_answer(datasette, endpoint_id):
    endpoint = await store.get_endpoint(datasette, endpoint_id)
    counts = await store_deliveries.delivery_counts(datasette)
    return Response.json({"ok": True, "endpoint": endpoint_json(endpoint, counts)})


# --- outgoing ------------------------------------------------------------------------------------


@route()
async def event_types(datasette, request):
    await require_view(datasette, request)
    return Response.json({"ok": True, "event_types": get_state(datasette).event_names})


@route(methods=("GET", "POST"))
async def endpoint_list(datasette, request):
    if request.method == "POST":
        await require_manage(datasette, request)
        data = await read_json_object(request)
        state = get_state(datasette)
        endpoint, secret = await endpoints.create_endpoint(datasette, state, data, request.actor)
        return Response.json(
            {"ok": True, "endpoint": endpoint_json(endpoint), "secret": secret}, status=201
        )
    await require_view(datasette, request)
    counts = await store_deliveries.delivery_counts(datasette)
    rows = await store.list_endpoints(datasette)
    return Response.json({"ok": True, "endpoints": [endpoint_json(e, counts) for e in rows]})


async def view_or_change(datasette, request, find, change):
    """GET: ``find`` what the path names, for those who may view. POST: also ``change`` it
    with the JSON body, for those who may manage. Permission is checked before the lookup."""
    if request.method != "POST":
        await require_view(datasette, request)
        return await find(datasette, request)
    await require_manage(datasette, request)
    found = await find(datasette, request)
    await change(found, await read_json_object(request))
    return found


@route(methods=("GET", "POST"))
async def endpoint_detail(datasette, request):
    async def change(endpoint, data):
        state = get_state(datasette)
        await endpoints.update_endpoint(datasette, state, endpoint, data, request.actor)

    endpoint = await view_or_change(datasette, request, endpoint_of, change)
    return await endpoint_answer(datasette, endpoint["id"])


@route(methods=("POST",), action=MANAGE)
async def endpoint_delete(datasette, request):
    endpoint = await endpoint_of(datasette, request)
    await endpoints.delete_endpoint(datasette, get_state(datasette), endpoint, request.actor)
    return Response.json({"ok": True})


@route(methods=("POST",), action=MANAGE)
async def endpoint_rotate_secret(datasette, request):
    endpoint = await endpoint_of(datasette, request)
    state = get_state(datasette)
    secret = await endpoints.rotate_endpoint_secret(datasette, state, endpoint, request.actor)
    endpoint = await store.get_endpoint(datasette, endpoint["id"])
    return Response.json({"ok": True, "secret": secret, "endpoint": endpoint_json(endpoint)})


@route(methods=("POST",), action=MANAGE)
async def endpoint_test(datasette, request):
    endpoint = await endpoint_of(datasette, request)
    message_id = await endpoints.send_test_event(get_state(datasette), endpoint, request.actor)
    return Response.json({"ok": True, "message_id": message_id}, status=202)


def delivery_status(request):
    status = request.args.get("status") or None
    if status not in (None, *STATUSES):
        raise InvalidInput("status must be pending, succeeded or failed")
    return status


@route()
async def endpoint_deliveries(datasette, request):
    await require_view(datasette, request)
    endpoint = await endpoint_of(datasette, request)
    status = delivery_status(request)
    return await paged_answer(
        request,
        "deliveries",
        lambda before_id, limit: store_deliveries.list_deliveries(
            datasette, endpoint["id"], status=status, before_id=before_id, limit=limit
        ),
    )


@route()
async def endpoint_attempts(datasette, request):
    await require_view(datasette, request)
    endpoint = await endpoint_of(datasette, request)
    return await paged_answer(
        request,
        "attempts",
        lambda before_id, limit: store_deliveries.list_attempts(
            datasette, endpoint_id=endpoint["id"], before_id=before_id, limit=limit
        ),
    )


@route()
async def delivery_detail(datasette, request):
    await require_view(datasette, request)
    delivery = await delivery_of(datasette, request)
    delivery["payload"] = json.loads(delivery["payload"])
    delivery["attempt_log"] = await store_deliveries.list_attempts(
        datasette, delivery_id=delivery["id"]
    )
    return Response.json({"ok": True, "delivery": delivery})


@route(methods=("POST",), action=MANAGE)
async def delivery_redeliver(datasette, request):
    delivery = await delivery_of(datasette, request)
    await endpoints.redeliver(datasette, get_state(datasette), delivery, request.actor)
    return Response.json({"ok": True, "delivery_id": delivery["id"]}, status=202)


@route(methods=("POST",), action=MANAGE)
async def redeliver_failed(datasette, request):
    data = await read_json_object(request)
    since = parse_since(data.get("since"))
    endpoint_id = data.get("endpoint_id") or request.url_vars.get("endpoint_id")
    if endpoint_id is not None and not (
        isinstance(endpoint_id, str) and ENDPOINT_ID.fullmatch(endpoint_id)
    ):
        raise InvalidInput("endpoint_id must be an endpoint id like ep_3f9c1a2b4d5e6f70")
    if endpoint_id is not None and await store.get_endpoint(datasette, endpoint_id) is None:
        raise NotFound("Endpoint not found")
    job_id, total = await endpoints.start_recovery(
        datasette, get_state(datasette), since, endpoint_id, request.actor
    )
    job_url = datasette.urls.path(f"/-/internal/jobs/{job_id}.json")
    return Response.json(
        {"ok": True, "job_id": job_id, "total": total, "job_url": job_url}, status=202
    )


# --- incoming ------------------------------------------------------------------------------------


@route(methods=("GET", "POST"))
async def incoming_list(datasette, request):
    if request.method == "POST":
        await require_manage(datasette, request)
        data = await read_json_object(request)
        incoming, secret = await endpoints.create_incoming(datasette, data, request.actor)
        return Response.json(
            {"ok": True, "incoming": incoming_json(datasette, request, incoming), "secret": secret},
            status=201,
        )
    await require_view(datasette, request)
    rows = await store.list_incoming(datasette)
    return Response.json(
        {"ok": True, "incoming": [incoming_json(datasette, request, r) for r in rows]}
    )


@route(methods=("GET", "POST"))
async def incoming_detail(datasette, request):
    async def change(row, data):
        await endpoints.update_incoming(datasette, row, data, request.actor)

    row = await view_or_change(datasette, request, incoming_of, change)
    incoming = store.incoming_from_row(await store.get_incoming(datasette, row["id"]))
    return Response.json({"ok": True, "incoming": incoming_json(datasette, request, incoming)})


@route(methods=("POST",), action=MANAGE)
async def incoming_delete(datasette, request):
    row = await incoming_of(datasette, request)
    await endpoints.delete_incoming(datasette, row, request.actor)
    return Response.json({"ok": True})


@route(methods=("POST",), action=MANAGE)
async def incoming_rotate_secret(datasette, request):
    row = await incoming_of(datasette, request)
    secret = await endpoints.rotate_incoming_secret(datasette, row, request.actor)
    return Response.json({"ok": True, "secret": secret})


@route()
async def incoming_received(datasette, request):
    await require_view(datasette, request)
    row = await incoming_of(datasette, request)
    return await paged_answer(
        request,
        "received",
        lambda before_id, limit: store.list_received(datasette, row["id"], before_id, limit),
    )
