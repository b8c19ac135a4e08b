"""Short links: the redirect at /-/l/<code>, its QR code, the owner's page and the JSON API."""

import datetime
import logging
import re
import secrets

import segno
from datasette.utils.asgi import Response
from datasette_internal_db import InvalidInput, audit, clock
from datasette_internal_db.paths import UnsafePath, local_path
from datasette_internal_db.text import CONTROL_CHARACTERS
from datasette_internal_db.web import json_error, parse_int

from . import store
from .access import SHORT_LINKS_ADMIN, SHORT_LINKS_CREATE
from .events import ShortLinkCreatedEvent, ShortLinkDeletedEvent
from .migrations import PLUGIN
from .runtime import runtime
from .targets import parse_target
from .web import actor_id, read_input, render

log = logging.getLogger("datasette_internal_bookmarks")

# No 0/O/o, 1/l/I: codes survive being read aloud or typed from paper. 56**7 is about 1.7e12.
CODE_ALPHABET = "23456789abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"
CODE_LENGTH = 7
CODE_ATTEMPTS = 8
SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{2,63}")
RESERVED_SLUGS = {
    "api",
    "new",
    "admin",
    "links",
    "link",
    "qr",
    "static",
    "edit",
    "delete",
    "list",
    "login",
    "logout",
    "bookmarks",
    "internal",
    "settings",
}
MAX_TITLE = 200
PAGE_SIZE = 50


def random_code():
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def check_slug(slug):
    if not isinstance(slug, str) or not SLUG.fullmatch(slug):
        raise InvalidInput(
            "A custom code is 3-64 characters: letters, digits, - and _, starting with a letter "
            "or digit"
        )
    if slug.lower() in RESERVED_SLUGS:
        raise InvalidInput(f"{slug!r} is a reserved word and cannot be a short link code")
    return slug


def parse_expiry(value):
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise InvalidInput("expires_at must be an ISO 8601 date-time string or null")
    try:
        moment = datetime.datetime.fromisoformat(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.timezone.utc)
        return clock.iso(moment.timestamp())
    except (ValueError, OverflowError):
        raise InvalidInput(f"expires_at is not a usable ISO 8601 date-time: {value!r}") from None


MAX_VISITS_LIMIT = 2**53


def parse_max_visits(value):
    if value in (None, ""):
        return None
    return parse_int(value, "max_visits", minimum=1, maximum=MAX_VISITS_LIMIT)


def parse_title(value):
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > MAX_TITLE:
        raise InvalidInput(f"title must be a string of at most {MAX_TITLE} characters")
    return CONTROL_CHARACTERS.sub(" ", value).strip()


def parse_flag(value):
    if isinstance(value, bool):
        return value
    if value in ("1", "true", "on", 1):
        return True
    if value in ("0", "false", "", None, 0):
        return False
    raise InvalidInput("disabled must be true or false")


async def target_fields(datasette, value):
    target = local_path(value, datasette.setting("base_url"), name="target")
    if target.startswith("/-/l/"):
        raise UnsafePath("A short link cannot point to another short link")
    resolved = await store.resolve_target(datasette, parse_target(target))
    return {
        "target": target,
        "resource_kind": resolved.kind,
        "resource_database": resolved.database,
        "resource_name": resolved.name,
    }


def link_json(datasette, request, link, pending=0):
    path = datasette.urls.path(f"/-/l/{link['code']}")
    return {
        "code": link["code"],
        "path": path,
        "url": datasette.absolute_url(request, path),
        "qr": path + "/qr.svg",
        "target": link["target"],
        "title": link["title"],
        "owner_id": link["owner_id"],
        "expires_at": link["expires_at"],
        "max_visits": link["max_visits"],
        "disabled": link["disabled"],
        "visits": link["visits"] + pending,
        "last_visit_at": link["last_visit_at"],
        "created_at": link["created_at"],
        "updated_at": link["updated_at"],
    }


def gone_reason(link, visits):
    if link["disabled"]:
        return "This short link has been disabled."
    if link["expires_at"] and link["expires_at"] <= clock.iso():
        return "This short link has expired."
    if link["max_visits"] is not None and visits >= link["max_visits"]:
        return "This short link has been used the maximum number of times."
    return None


async def message_page(datasette, request, status, title, message):
    html = await render(
        datasette, request, "bookmarks_link_message.html", {"title": title, "message": message}
    )
    return Response.html(html, status=status, headers={"Cache-Control": "no-store"})


# ---------------------------------------------------------------- the redirect


async def follow(datasette, request):
    """302 to the link's local path. No write here: the visit is counted in memory."""
    code = request.url_vars["code"]
    state = runtime(datasette)
    cached = await state.link(datasette, code)
    if cached is None:
        return await message_page(
            datasette, request, 404, "Link not found", "There is no short link with this code."
        )
    reason = gone_reason(cached.link, cached.visits)
    if reason:
        return await message_page(datasette, request, 410, "Link gone", reason)
    checks = state.view_checks
    if not await checks.allowed(datasette, request.actor, cached.action, cached.resource):
        # Say neither where the link goes nor what is there.
        return await message_page(
            datasette,
            request,
            403,
            "Permission denied",
            "You may not view this link's destination. Signing in may help.",
        )
    if cached.location is None:
        log.warning("Refused to redirect short link %r: unsafe stored target", code)
        return await message_page(
            datasette,
            request,
            400,
            "Link refused",
            "This short link points somewhere unsafe and was not followed.",
        )
    cached.visits += 1
    state.visits.record(code)
    return Response.redirect(
        cached.location, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    )


async def qr_code(datasette, request):
    code = request.url_vars["code"]
    cached = await runtime(datasette).link(datasette, code)
    if cached is None:
        return json_error(404, "No short link with this code")
    path = datasette.urls.path(f"/-/l/{code}")
    url = datasette.absolute_url(request, path)
    svg = segno.make(url, error="m").svg_inline(scale=4)
    return Response(
        svg, content_type="image/svg+xml", headers={"Cache-Control": "private, max-age=3600"}
    )


# ---------------------------------------------------------------- managing links


async def is_admin(datasette, actor):
    return await datasette.allowed(action=SHORT_LINKS_ADMIN, actor=actor)


async def manageable_link(datasette, request, code):
    """The link if the actor owns it or administers links, else None (reported as 404)."""
    link = await store.get_link(datasette, code)
    if link is None:
        return None, False
    admin = await is_admin(datasette, request.actor)
    if link["owner_id"] != actor_id(request) and not admin:
        return None, admin
    return link, admin


async def create_link(datasette, request, data):
    if not await datasette.allowed(action=SHORT_LINKS_CREATE, actor=request.actor):
        raise PermissionError("short-links-create is required to create short links")
    fields = await target_fields(datasette, data.get("target"))
    fields.update(
        title=parse_title(data.get("title")),
        owner_id=actor_id(request),
        expires_at=parse_expiry(data.get("expires_at")),
        max_visits=parse_max_visits(data.get("max_visits")),
    )
    slug = data.get("code")
    codes = [check_slug(slug)] if slug else (random_code() for _ in range(CODE_ATTEMPTS))
    code = await store.insert_link(datasette, codes, fields)
    await datasette.track_event(
        ShortLinkCreatedEvent(actor=request.actor, code=code, target=fields["target"])
    )
    return await store.get_link(datasette, code)


async def change_link(datasette, request, link, admin, data):
    fields = {}
    if "target" in data:
        fields.update(await target_fields(datasette, data["target"]))
    if "title" in data:
        fields["title"] = parse_title(data["title"])
    if "expires_at" in data:
        fields["expires_at"] = parse_expiry(data["expires_at"])
    if "max_visits" in data:
        fields["max_visits"] = parse_max_visits(data["max_visits"])
    if "disabled" in data:
        fields["disabled"] = int(parse_flag(data["disabled"]))
    unknown = set(data) - {"target", "title", "expires_at", "max_visits", "disabled"}
    if unknown:
        raise InvalidInput(f"Unknown fields: {', '.join(sorted(unknown))}")
    if not fields:
        raise InvalidInput("Nothing to change")
    await store.update_link(datasette, link["code"], fields)
    runtime(datasette).forget_link(link["code"])
    if fields.get("disabled") or (admin and link["owner_id"] != actor_id(request)):
        action = "short-link-disabled" if fields.get("disabled") else "short-link-updated"
        await audit.record(
            datasette,
            PLUGIN,
            action,
            actor=request.actor,
            resource=f"short-link/{link['code']}",
            details={"owner_id": link["owner_id"], "fields": sorted(fields)},
        )
    return await store.get_link(datasette, link["code"])


async def remove_link(datasette, request, link):
    await store.delete_link(datasette, link["code"])
    state = runtime(datasette)
    state.forget_link(link["code"])
    state.visits.forget(link["code"])
    await audit.record(
        datasette,
        PLUGIN,
        "short-link-deleted",
        actor=request.actor,
        resource=f"short-link/{link['code']}",
        details={"owner_id": link["owner_id"], "target": link["target"]},
    )
    await datasette.track_event(ShortLinkDeletedEvent(actor=request.actor, code=link["code"]))


def signed_in_error(request):
    if actor_id(request) is None:
        return json_error(403, "Sign in to manage short links")
    return None


async def api_links(datasette, request):
    """GET: your links (``?all=1``: everyone's, for admins). POST: create one."""
    if (error := signed_in_error(request)) is not None:
        return error
    if request.method == "POST":
        try:
            link = await create_link(datasette, request, await read_input(request))
        except PermissionError as error:
            return json_error(403, str(error))
        except InvalidInput as error:
            return json_error(400, str(error))
        return Response.json({"ok": True, "link": link_json(datasette, request, link)}, status=201)
    everyone = request.args.get("all") == "1"
    if everyone and not await is_admin(datasette, request.actor):
        return json_error(403, "short-links-admin is required to list everyone's links")
    try:
        links, next_cursor = await links_page_of(datasette, request, everyone)
    except InvalidInput as error:
        return json_error(400, str(error))
    pending = runtime(datasette).visits.pending
    return Response.json(
        {
            "ok": True,
            "links": [link_json(datasette, request, link, pending(link["code"])) for link in links],
            "next": next_cursor,
        }
    )


def parse_cursor(value):
    """``before`` is the ``next`` of the previous page: ``<created_at>,<code>``."""
    if not value:
        return None
    created_at, comma, code = value.partition(",")
    if not comma or not created_at or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", code):
        raise InvalidInput("before must be the next value of the previous page")
    return created_at, code


async def links_page_of(datasette, request, everyone):
    """One page of links, newest first, and the cursor of the next page (None at the end)."""
    before = parse_cursor(request.args.get("before"))
    owner = None if everyone else actor_id(request)
    links = await store.list_links(datasette, owner, before=before, limit=PAGE_SIZE)
    last = links[-1] if len(links) == PAGE_SIZE else None
    return links, last and f"{last['created_at']},{last['code']}"


async def api_link(datasette, request):
    """GET one link with its visits per day; POST changes it; DELETE (or POST .../delete)."""
    if (error := signed_in_error(request)) is not None:
        return error
    link, admin = await manageable_link(datasette, request, request.url_vars["code"])
    if link is None:
        return json_error(404, "No short link with this code that you may manage")
    deleting = request.method == "DELETE" or request.path.endswith("/delete")
    if deleting and request.method in ("DELETE", "POST"):
        await remove_link(datasette, request, link)
        return Response.json({"ok": True, "deleted": link["code"]})
    if request.method == "POST":
        try:
            link = await change_link(datasette, request, link, admin, await read_input(request))
        except InvalidInput as error:
            return json_error(400, str(error))
    elif request.method != "GET":
        return json_error(405, "Use GET, POST or DELETE")
    body = link_json(datasette, request, link, runtime(datasette).visits.pending(link["code"]))
    body["days"] = await store.link_days(datasette, link["code"])
    return Response.json({"ok": True, "link": body})


async def links_page(datasette, request):
    """HTML: your short links with a create form (form POSTs land here too)."""
    if actor_id(request) is None:
        return await message_page(
            datasette, request, 403, "Sign in", "Sign in to create and manage short links."
        )
    errors, created = [], None
    if request.method == "POST":
        try:
            created = await create_link(datasette, request, await read_input(request))
        except (PermissionError, InvalidInput) as error:
            errors.append(str(error))
    everyone = request.args.get("all") == "1" and await is_admin(datasette, request.actor)
    try:
        links, next_cursor = await links_page_of(datasette, request, everyone)
    except InvalidInput as error:
        return json_error(400, str(error))
    pending = runtime(datasette).visits.pending
    html = await render(
        datasette,
        request,
        "bookmarks_links.html",
        {
            "links": [link_json(datasette, request, link, pending(link["code"])) for link in links],
            "errors": errors,
            "created": created and link_json(datasette, request, created),
            "everyone": everyone,
            "next": next_cursor,
            "may_create": await datasette.allowed(action=SHORT_LINKS_CREATE, actor=request.actor),
            "target": request.args.get("target", ""),
        },
    )
    return Response.html(html, status=400 if errors else 200)
