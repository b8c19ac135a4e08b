"""Email routes: an actor's preference, one-click unsubscribe, and root's outbox with a test
button. JSON under /-/comments/api/email/, pages under /-/comments/email and /unsubscribe.

The unsubscribe route works without signing in: its signed token names the actor. Its POST
comes from mail providers' servers (RFC 8058) with neither ``Origin`` nor ``Sec-Fetch-Site``,
which Datasette 1.0a41's cross-origin check lets through (it has no CSRF tokens to skip), and
from the confirmation page's own same-origin form. A GET never changes anything: link scanners
open every link in a message.
"""

from datasette.utils.asgi import Forbidden, Response
from datasette_internal_db import InvalidInput, clock, route
from datasette_internal_db.routing import page_after, page_links, page_size, wants_json
from datasette_internal_db.web import parse_int

from . import notify, outbox, store_email
from .forms import read_input, reply_to, require_actor
from .settings import EMAIL_PREFERENCES, email_config

ADMIN = "internal-db-admin"
PREFERENCE_LABELS = {
    "off": "No email",
    "each": "An email for each mention, reply and resolution",
    "daily": "One email a day with everything",
}


async def preference_of(datasette, actor_id):
    chosen = await store_email.preferences(datasette, [actor_id])
    return chosen.get(actor_id, email_config(datasette).default_preference)


def parse_preference(data):
    value = data.get("preference")
    if value not in EMAIL_PREFERENCES:
        raise InvalidInput(f"'preference' must be one of: {', '.join(EMAIL_PREFERENCES)}")
    return value


async def preference_json(datasette, actor_id):
    return {
        "preference": await preference_of(datasette, actor_id),
        "default": email_config(datasette).default_preference,
        "email_enabled": outbox.enabled(datasette),
    }


@route(methods=("GET", "POST"))
async def preference_api(datasette, request):
    """GET: the signed-in actor's email preference. POST ``{"preference": "off|each|daily"}``."""
    me = require_actor(request)
    if request.method == "POST":
        data = await read_input(request)
        await store_email.set_preference(datasette, me, parse_preference(data), clock.iso())
        payload = await preference_json(datasette, me)
        return reply_to(request, data, payload, datasette.urls.path("/-/comments/email"))
    return Response.json({"ok": True, **await preference_json(datasette, me)})


@route()
async def preference_html(datasette, request):
    me = require_actor(request)
    context = {
        **await preference_json(datasette, me),
        "labels": PREFERENCE_LABELS,
        "breadcrumbs": [
            ("Comments", datasette.urls.path("/-/comments")),
            ("Inbox", datasette.urls.path("/-/comments/inbox")),
            ("Email", None),
        ],
    }
    return await render(
        datasette, request, "datasette_internal_comments_email_preferences.html", context
    )


@route(methods=("GET", "POST"))
async def unsubscribe(datasette, request):
    """GET: a page with one button. POST (the button, or a mail client's RFC 8058 one-click
    ``List-Unsubscribe=One-Click``): that actor's preference becomes "off"."""
    actor_id = notify.actor_for_token(datasette, request.args.get("token"))
    if actor_id is None:
        raise InvalidInput("This unsubscribe link is not valid (or was made with another secret)")
    done = request.method == "POST"
    if done:
        await read_input(request)  # the body says only "List-Unsubscribe=One-Click"
        await store_email.set_preference(datasette, actor_id, "off", clock.iso())
        if wants_json(request):
            return Response.json({"ok": True, "preference": "off"})
    context = {"done": done, "action": request.full_path, "breadcrumbs": [("Email", None)]}
    return await render(
        datasette, request, "datasette_internal_comments_email_unsubscribe.html", context
    )


async def require_admin(datasette, request):
    if not await datasette.allowed(action=ADMIN, actor=request.actor):
        raise Forbidden(f"Permission denied: {ADMIN} is required")


async def outbox_json(datasette, request):
    status = request.args.get("status") or ""
    if status and status not in store_email.OUTBOX_STATUSES:
        raise InvalidInput(f"'status' must be one of: {', '.join(store_email.OUTBOX_STATUSES)}")
    size = page_size(request)
    after = page_after(request, 1)
    before_id = parse_int(after[0], "_next", minimum=1) if after else None
    rows = await store_email.outbox_page(datasette, status, size, before_id)
    more = len(rows) > size
    rows = rows[:size]
    token = str(rows[-1]["id"]) if more else None
    return {
        "ok": True,
        "email_enabled": outbox.enabled(datasette),
        "counts": await store_email.outbox_counts(datasette),
        "messages": rows,
        **page_links(request, token),
    }


@route()
async def outbox_api(datasette, request):
    await require_admin(datasette, request)
    return Response.json(await outbox_json(datasette, request))


@route()
async def outbox_html(datasette, request):
    await require_admin(datasette, request)
    context = {
        **await outbox_json(datasette, request),
        "status": request.args.get("status") or "",
        "statuses": store_email.OUTBOX_STATUSES,
        "breadcrumbs": [("Comments", datasette.urls.path("/-/comments")), ("Email outbox", None)],
    }
    return await render(
        datasette, request, "datasette_internal_comments_email_outbox.html", context
    )


@route(methods=("POST",))
async def test_email_api(datasette, request):
    """POST ``{"to": "address"}``: queue a test message to that address."""
    await require_admin(datasette, request)
    data = await read_input(request)
    address = notify.clean_address(data.get("to"))
    if address is None:
        raise InvalidInput("'to' must be an email address")
    if not outbox.enabled(datasette):
        raise InvalidInput("Email is not configured: set email.smtp_host in datasette.yaml")
    now = clock.now()
    outbox_id = await store_email.enqueue_test(
        datasette, require_actor(request), address, now, clock.iso(now), notify.domain(datasette)
    )
    outbox.wake(datasette)
    fallback = datasette.urls.path("/-/comments/email/outbox")
    return reply_to(request, data, {"outbox_id": outbox_id}, fallback)


async def render(datasette, request, template, context):
    return Response.html(await datasette.render_template(template, context, request))
