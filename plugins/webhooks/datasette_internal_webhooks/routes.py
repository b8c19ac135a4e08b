"""HTTP: the JSON API under /-/webhooks/api/, the UI at /-/webhooks, the incoming receiver."""

import datetime
import json
import re

from datasette import Forbidden
from datasette.utils.asgi import Response
from datasette_internal_db import BodyTooLarge, InvalidInput, audit, clock, secrets
from datasette_internal_db.web import (
    int_param,
    json_error,
    parse_json_object,
    read_body,
    read_json_object,
)

from . import store
from .config import settings
from .events import WebhookReceivedEvent
from .incoming import (
    create_incoming_record,
    incoming_message_id,
    insert_into_target,
    new_incoming_secret,
    verify_incoming,
)
from .names import MANAGE, PLUGIN, VIEW_LOG
from .outgoing import (
    clean_endpoint,
    create_endpoint_record,
    optional_text,
    rotate_endpoint_secret,
    send_test_event,
    start_recovery,
)
from .runtime import get_state, incoming_secret_name, secret_name

PAGE_SIZE = 50
MAX_TIMESTAMP = 253402300799  # 9999-12-31T23:59:59Z
ENDPOINT_ID = re.compile(r"ep_[0-9a-f]{1,32}")


# --- shared helpers ----------------------------------------------------------------------------


async def allowed(datasette, request, action):
    """``webhooks-manage`` includes reading: managing endpoints means seeing them."""
    if await datasette.allowed(action=action, actor=request.actor):
        return True
    return action == VIEW_LOG and await datasette.allowed(action=MANAGE, actor=request.actor)


def denied(action):
    return json_error(403, f"Permission denied: {action} is required")


def not_found(what):
    return json_error(404, f"{what} not found")


def api(action, method):
    """Decorate a JSON API view: one method, permission first, InvalidInput becomes a 400."""

    def decorate(view):
        async def wrapped(datasette, request):
            if request.method != method:
                return json_error(405, f"Use {method}")
            if not await allowed(datasette, request, action):
                return denied(action)
            try:
                return await view(datasette, request, get_state(datasette))
            except InvalidInput as error:
                return json_error(400, str(error))

        return wrapped

    return decorate


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


def page_args(request):
    return int_param(request, "before")


# --- endpoint validation -----------------------------------------------------------------------


def endpoint_json(endpoint, counts=None):
    result = dict(endpoint)
    result["managed_by_config"] = result.pop("config_key") is not None
    if counts is not None:
        result["deliveries"] = counts.get(endpoint["id"], {})
    return result


# --- JSON API: outgoing ------------------------------------------------------------------------


@api(VIEW_LOG, "GET")
async def api_event_types(datasette, request, state):
    return Response.json({"ok": True, "event_types": sorted(state.event_names)})


async def api_endpoints(datasette, request):
    action = MANAGE if request.method == "POST" else VIEW_LOG
    if not await allowed(datasette, request, action):
        return denied(action)
    state = get_state(datasette)
    try:
        if request.method == "POST":
            data = await read_json_object(request)
            endpoint, secret = await create_endpoint_record(datasette, state, data, request.actor)
            return Response.json(
                {"ok": True, "endpoint": endpoint_json(endpoint), "secret": secret}, status=201
            )
    except InvalidInput as error:
        return json_error(400, str(error))
    counts = await store.delivery_counts(state.db)
    endpoints = await store.list_endpoints(state.db)
    return Response.json({"ok": True, "endpoints": [endpoint_json(e, counts) for e in endpoints]})


async def load_endpoint(state, request):
    return await store.get_endpoint(state.db, request.url_vars["endpoint_id"])


async def api_endpoint(datasette, request):
    action = MANAGE if request.method == "POST" else VIEW_LOG
    if not await allowed(datasette, request, action):
        return denied(action)
    state = get_state(datasette)
    endpoint = await load_endpoint(state, request)
    if endpoint is None:
        return not_found("Endpoint")
    if request.method == "POST":
        try:
            data = await read_json_object(request)
            if endpoint["config_key"] is not None and set(data) - {"active"}:
                raise InvalidInput(
                    "This endpoint is declared in datasette.yaml; change it there"
                    " (only active can be changed here)"
                )
            changes = await clean_endpoint(state, data, partial=True)
        except InvalidInput as error:
            return json_error(400, str(error))
        if changes:
            changes["updated_at"] = clock.iso()
            await store.update_endpoint(state.db, endpoint["id"], changes)
            await state.reload_endpoints()
            await audit.record(
                datasette,
                PLUGIN,
                "endpoint-update",
                actor=request.actor,
                resource=f"endpoint/{endpoint['id']}",
                details={key: value for key, value in changes.items() if key != "updated_at"},
            )
        endpoint = await store.get_endpoint(state.db, endpoint["id"])
    counts = await store.delivery_counts(state.db)
    return Response.json({"ok": True, "endpoint": endpoint_json(endpoint, counts)})


@api(MANAGE, "POST")
async def api_endpoint_delete(datasette, request, state):
    endpoint = await load_endpoint(state, request)
    if endpoint is None:
        return not_found("Endpoint")
    if endpoint["config_key"] is not None:
        raise InvalidInput("This endpoint is declared in datasette.yaml; remove it there")
    await store.delete_endpoint(state.db, endpoint["id"])
    await secrets.delete(datasette, PLUGIN, secret_name(endpoint["id"]))
    await secrets.delete(datasette, PLUGIN, secret_name(endpoint["id"], previous=True))
    state.forget_keys(endpoint["id"])
    await state.reload_endpoints()
    await audit.record(
        datasette,
        PLUGIN,
        "endpoint-delete",
        actor=request.actor,
        resource=f"endpoint/{endpoint['id']}",
        details={"url": endpoint["url"]},
    )
    return Response.json({"ok": True})


@api(MANAGE, "POST")
async def api_endpoint_rotate(datasette, request, state):
    endpoint = await load_endpoint(state, request)
    if endpoint is None:
        return not_found("Endpoint")
    if endpoint["secret_from_config"]:
        raise InvalidInput("This endpoint's secret is set in datasette.yaml; rotate it there")
    secret = await rotate_endpoint_secret(datasette, state, endpoint, request.actor)
    endpoint = await store.get_endpoint(state.db, endpoint["id"])
    return Response.json({"ok": True, "secret": secret, "endpoint": endpoint_json(endpoint)})


@api(MANAGE, "POST")
async def api_endpoint_test(datasette, request, state):
    endpoint = await load_endpoint(state, request)
    if endpoint is None:
        return not_found("Endpoint")
    message_id = await send_test_event(state, endpoint, request.actor)
    return Response.json({"ok": True, "message_id": message_id}, status=202)


@api(VIEW_LOG, "GET")
async def api_endpoint_deliveries(datasette, request, state):
    endpoint = await load_endpoint(state, request)
    if endpoint is None:
        return not_found("Endpoint")
    status = request.args.get("status") or None
    if status not in (None, "pending", "succeeded", "failed"):
        raise InvalidInput("status must be pending, succeeded or failed")
    rows = await store.list_deliveries(
        state.db, endpoint["id"], status=status, before_id=page_args(request), limit=PAGE_SIZE
    )
    next_before = rows[-1]["id"] if len(rows) == PAGE_SIZE else None
    return Response.json({"ok": True, "deliveries": rows, "next": next_before})


@api(VIEW_LOG, "GET")
async def api_endpoint_attempts(datasette, request, state):
    endpoint = await load_endpoint(state, request)
    if endpoint is None:
        return not_found("Endpoint")
    rows = await store.list_attempts(
        state.db, endpoint_id=endpoint["id"], before_id=page_args(request), limit=PAGE_SIZE
    )
    next_before = rows[-1]["id"] if len(rows) == PAGE_SIZE else None
    return Response.json({"ok": True, "attempts": rows, "next": next_before})


@api(VIEW_LOG, "GET")
async def api_delivery(datasette, request, state):
    delivery = await store.get_delivery(state.db, int(request.url_vars["delivery_id"]))
    if delivery is None:
        return not_found("Delivery")
    delivery["payload"] = json.loads(delivery["payload"])
    delivery["attempt_log"] = await store.list_attempts(
        state.db, delivery_id=delivery["id"], limit=PAGE_SIZE
    )
    return Response.json({"ok": True, "delivery": delivery})


@api(MANAGE, "POST")
async def api_delivery_redeliver(datasette, request, state):
    delivery = await store.get_delivery(state.db, int(request.url_vars["delivery_id"]))
    if delivery is None:
        return not_found("Delivery")
    await store.requeue_deliveries(state.db, [delivery["id"]], clock.now())
    state.wake_worker()
    await audit.record(
        datasette,
        PLUGIN,
        "redeliver",
        actor=request.actor,
        resource=f"endpoint/{delivery['endpoint_id']}",
        details={"delivery_id": delivery["id"], "message_id": delivery["message_id"]},
    )
    return Response.json({"ok": True, "delivery_id": delivery["id"]}, status=202)


@api(MANAGE, "POST")
async def api_recover(datasette, request, state):
    data = await read_json_object(request)
    since = parse_since(data.get("since"))
    endpoint_id = data.get("endpoint_id") or request.url_vars.get("endpoint_id")
    if endpoint_id is not None and not (
        isinstance(endpoint_id, str) and ENDPOINT_ID.fullmatch(endpoint_id)
    ):
        raise InvalidInput("endpoint_id must be an endpoint id like ep_3f9c1a2b4d5e6f70")
    if endpoint_id is not None and await store.get_endpoint(state.db, endpoint_id) is None:
        return not_found("Endpoint")
    job_id, total = await start_recovery(datasette, state, since, endpoint_id, request.actor)
    return Response.json(
        {
            "ok": True,
            "job_id": job_id,
            "total": total,
            "job_url": f"/-/internal/jobs/{job_id}.json",
        },
        status=202,
    )


# --- JSON API: incoming ------------------------------------------------------------------------


def incoming_json(datasette, request, incoming):
    path = datasette.urls.path(f"/-/webhooks/in/{incoming['slug']}")
    return dict(incoming, url=datasette.absolute_url(request, path))


async def api_incoming_list(datasette, request):
    action = MANAGE if request.method == "POST" else VIEW_LOG
    if not await allowed(datasette, request, action):
        return denied(action)
    state = get_state(datasette)
    if request.method == "POST":
        try:
            data = await read_json_object(request)
            incoming, secret = await create_incoming_record(datasette, state, data, request.actor)
        except InvalidInput as error:
            return json_error(400, str(error))
        return Response.json(
            {"ok": True, "incoming": incoming_json(datasette, request, incoming), "secret": secret},
            status=201,
        )
    rows = await store.list_incoming(state.db)
    return Response.json(
        {"ok": True, "incoming": [incoming_json(datasette, request, r) for r in rows]}
    )


async def api_incoming(datasette, request):
    action = MANAGE if request.method == "POST" else VIEW_LOG
    if not await allowed(datasette, request, action):
        return denied(action)
    state = get_state(datasette)
    row = await store.get_incoming(state.db, request.url_vars["incoming_id"])
    if row is None:
        return not_found("Incoming endpoint")
    if request.method == "POST":
        try:
            data = await read_json_object(request)
            changes = {}
            if "description" in data:
                changes["description"] = optional_text(data, "description") or ""
            if "active" in data:
                if not isinstance(data["active"], bool):
                    raise InvalidInput("active must be true or false")
                changes["active"] = int(data["active"])
            unknown = set(data) - {"description", "active"}
            if unknown:
                raise InvalidInput(f"Unknown field(s): {', '.join(sorted(unknown))}")
        except InvalidInput as error:
            return json_error(400, str(error))
        if changes:
            await store.update_incoming(state.db, row["id"], dict(changes, updated_at=clock.iso()))
            await audit.record(
                datasette,
                PLUGIN,
                "incoming-update",
                actor=request.actor,
                resource=f"incoming/{row['id']}",
                details=changes,
            )
        row = await store.get_incoming(state.db, row["id"])
    return Response.json(
        {"ok": True, "incoming": incoming_json(datasette, request, store.incoming_from_row(row))}
    )


@api(MANAGE, "POST")
async def api_incoming_delete(datasette, request, state):
    row = await store.get_incoming(state.db, request.url_vars["incoming_id"])
    if row is None:
        return not_found("Incoming endpoint")
    await store.delete_incoming(state.db, row["id"])
    await secrets.delete(datasette, PLUGIN, incoming_secret_name(row["id"]))
    await audit.record(
        datasette,
        PLUGIN,
        "incoming-delete",
        actor=request.actor,
        resource=f"incoming/{row['id']}",
        details={"slug": row["slug"]},
    )
    return Response.json({"ok": True})


@api(MANAGE, "POST")
async def api_incoming_rotate(datasette, request, state):
    row = await store.get_incoming(state.db, request.url_vars["incoming_id"])
    if row is None:
        return not_found("Incoming endpoint")
    secret, token_hash = await new_incoming_secret(datasette, row["id"], row["scheme"])
    if token_hash is not None:
        await store.update_incoming(
            state.db, row["id"], {"token_hash": token_hash, "updated_at": clock.iso()}
        )
    await audit.record(
        datasette,
        PLUGIN,
        "incoming-rotate-secret",
        actor=request.actor,
        resource=f"incoming/{row['id']}",
    )
    return Response.json({"ok": True, "secret": secret})


@api(VIEW_LOG, "GET")
async def api_incoming_received(datasette, request, state):
    row = await store.get_incoming(state.db, request.url_vars["incoming_id"])
    if row is None:
        return not_found("Incoming endpoint")
    rows = await store.list_received(state.db, row["id"], page_args(request), PAGE_SIZE)
    next_before = rows[-1]["id"] if len(rows) == PAGE_SIZE else None
    return Response.json({"ok": True, "received": rows, "next": next_before})


# --- the incoming receiver ---------------------------------------------------------------------


async def receive(datasette, request):
    state = get_state(datasette)
    row = await store.get_incoming_by_slug(state.db, request.url_vars["slug"])
    if row is None or not row["active"]:
        return json_error(404, "Not found")
    if request.method != "POST":
        return json_error(405, "Use POST")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        return json_error(415, "Content-Type must be application/json")
    limit = state.options.max_incoming_bytes
    try:
        body = await read_body(request, limit)
    except BodyTooLarge:
        return json_error(413, f"Payloads are limited to {limit} bytes")
    except InvalidInput as error:
        return json_error(400, str(error))
    headers = {key.lower(): value for key, value in request.headers.items()}
    if not await verify_incoming(datasette, row, headers, body):
        return json_error(401, "Unauthorized")
    try:
        text = body.decode("utf-8")
        payload = parse_json_object(body)
    except UnicodeDecodeError:
        return json_error(400, "Body is not valid UTF-8")
    except InvalidInput as error:
        return json_error(400, str(error))
    message_id = incoming_message_id(row["scheme"], headers)
    if message_id is not None and len(message_id) > 200:
        return json_error(400, "Message id is too long")
    received_at = clock.now()
    received_id = await store.store_received(
        state.db, row["id"], message_id, received_at, content_type, text
    )
    if received_id is None:
        return json_error(409, "This message was already received")
    target = state.options.incoming_targets.get(row["slug"])
    if target is not None:
        await insert_into_target(datasette, target, row, message_id, received_at, payload)
    await datasette.track_event(
        WebhookReceivedEvent(
            actor=None,
            slug=row["slug"],
            received_id=received_id,
            message_id=message_id,
            scheme=row["scheme"],
        )
    )
    return Response.json({"ok": True, "id": received_id})


# --- UI ----------------------------------------------------------------------------------------


async def ui_permissions(datasette, request):
    can_manage = await allowed(datasette, request, MANAGE)
    if not can_manage and not await allowed(datasette, request, VIEW_LOG):
        raise Forbidden(f"{VIEW_LOG} or {MANAGE} is required")
    return can_manage


async def ui_index(datasette, request):
    can_manage = await ui_permissions(datasette, request)
    state = get_state(datasette)
    counts = await store.delivery_counts(state.db)
    endpoints = [endpoint_json(e, counts) for e in await store.list_endpoints(state.db)]
    incoming = [incoming_json(datasette, request, r) for r in await store.list_incoming(state.db)]
    return Response.html(
        await datasette.render_template(
            "datasette_internal_webhooks_index.html",
            {
                "endpoints": endpoints,
                "incoming": incoming,
                "event_names": sorted(state.event_names),
                "can_manage": can_manage,
                "paused": await settings.get(datasette, "paused"),
            },
            request,
        )
    )


def when(timestamp):
    return "" if timestamp is None else clock.iso(timestamp)[:19].replace("T", " ")


async def ui_endpoint(datasette, request):
    can_manage = await ui_permissions(datasette, request)
    state = get_state(datasette)
    endpoint = await load_endpoint(state, request)
    if endpoint is None:
        return Response.html("Endpoint not found", status=404)
    counts = await store.delivery_counts(state.db)
    deliveries = await store.list_deliveries(state.db, endpoint["id"], limit=PAGE_SIZE)
    attempts = await store.list_attempts(state.db, endpoint_id=endpoint["id"], limit=PAGE_SIZE)
    job_id = request.args.get("job")
    return Response.html(
        await datasette.render_template(
            "datasette_internal_webhooks_endpoint.html",
            {
                "endpoint": endpoint_json(endpoint, counts),
                "deliveries": deliveries,
                "attempts": attempts,
                "can_manage": can_manage,
                "when": when,
                "job_id": job_id if job_id and re.fullmatch(r"[0-9a-f]{16}", job_id) else None,
            },
            request,
        )
    )


async def ui_incoming(datasette, request):
    can_manage = await ui_permissions(datasette, request)
    state = get_state(datasette)
    row = await store.get_incoming(state.db, request.url_vars["incoming_id"])
    if row is None:
        return Response.html("Incoming endpoint not found", status=404)
    received = await store.list_received(state.db, row["id"], limit=PAGE_SIZE)
    return Response.html(
        await datasette.render_template(
            "datasette_internal_webhooks_incoming.html",
            {
                "incoming": incoming_json(datasette, request, store.incoming_from_row(row)),
                "received": received,
                "can_manage": can_manage,
                "when": when,
            },
            request,
        )
    )


API = r"/-/webhooks/api"
ENDPOINT = API + r"/endpoints/(?P<endpoint_id>ep_[0-9a-f]+)"
INCOMING = API + r"/incoming/(?P<incoming_id>in_[0-9a-f]+)"

routes = [
    (r"^/-/webhooks$", ui_index),
    (r"^/-/webhooks/endpoints/(?P<endpoint_id>ep_[0-9a-f]+)$", ui_endpoint),
    (r"^/-/webhooks/incoming/(?P<incoming_id>in_[0-9a-f]+)$", ui_incoming),
    (r"^/-/webhooks/in/(?P<slug>[^/]+)$", receive),
    (rf"^{API}/event-types$", api_event_types),
    (rf"^{API}/endpoints$", api_endpoints),
    (rf"^{ENDPOINT}$", api_endpoint),
    (rf"^{ENDPOINT}/delete$", api_endpoint_delete),
    (rf"^{ENDPOINT}/rotate-secret$", api_endpoint_rotate),
    (rf"^{ENDPOINT}/test$", api_endpoint_test),
    (rf"^{ENDPOINT}/deliveries$", api_endpoint_deliveries),
    (rf"^{ENDPOINT}/attempts$", api_endpoint_attempts),
    (rf"^{ENDPOINT}/redeliver-failed$", api_recover),
    (rf"^{API}/redeliver-failed$", api_recover),
    (rf"^{API}/deliveries/(?P<delivery_id>[0-9]{{1,18}})$", api_delivery),
    (rf"^{API}/deliveries/(?P<delivery_id>[0-9]{{1,18}})/redeliver$", api_delivery_redeliver),
    (rf"^{API}/incoming$", api_incoming_list),
    (rf"^{INCOMING}$", api_incoming),
    (rf"^{INCOMING}/delete$", api_incoming_delete),
    (rf"^{INCOMING}/rotate-secret$", api_incoming_rotate),
    (rf"^{INCOMING}/received$", api_incoming_received),
]
