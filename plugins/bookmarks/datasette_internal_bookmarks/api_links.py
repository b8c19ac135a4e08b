"""The short links JSON API under ``/-/l/api/links``, and the one way each change is made
(create, change, delete), which the HTML pages use too."""

import datetime
import re
import secrets

from datasette.utils.asgi import Forbidden, NotFound, Response
from datasette_internal_db import InvalidInput, clock, page_links, read_page, route, web
from datasette_internal_db.paths import UnsafePath, local_path
from datasette_internal_db.text import CONTROL_CHARACTERS
from datasette_internal_db.web import read_fields

from . import store, store_links
from .access import SHORT_LINKS_ADMIN, SHORT_LINKS_CREATE, actor_id
from .events import ShortLinkCreatedEvent, ShortLinkDeletedEvent
from .redirect import link_cache
from .settings import plugin
from .targets import names_a_short_link, normalize, parse_target

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
MAX_VISITS_LIMIT = 2**53
PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
CHANGEABLE = {"target", "title", "expires_at", "max_visits", "disabled"}


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
    """ISO 8601 with an offset, or without one meaning UTC; stored as UTC."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise InvalidInput("expires_at must be an ISO 8601 date-time string or null")
    try:
        # Python 3.10's fromisoformat does not read a trailing "Z".
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.timezone.utc)
        return clock.iso(moment.timestamp())
    except (ValueError, OverflowError):
        raise InvalidInput(f"expires_at is not a usable ISO 8601 date-time: {value!r}") from None


def parse_max_visits(value):
    if value in (None, ""):
        return None
    return web.parse_int(value, "max_visits", minimum=1, maximum=MAX_VISITS_LIMIT)


def parse_title(value):
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > MAX_TITLE:
        raise InvalidInput(f"title must be a string of at most {MAX_TITLE} characters")
    return CONTROL_CHARACTERS.sub(" ", value).strip()


def parse_flag(value, name):
    if isinstance(value, bool):
        return value
    if value in ("1", "true", "on", 1):
        return True
    if value in ("0", "false", "", None, 0):
        return False
    raise InvalidInput(f"{name} must be true or false")


async def target_fields(datasette, value):
    target = local_path(value, datasette.setting("base_url"), name="target")
    if names_a_short_link(target):
        raise UnsafePath("A short link cannot point to another short link")
    resolved = await store.resolve_target(datasette, parse_target(target))
    return {
        "target": target,
        "target_key": normalize(target),
        "resource_kind": resolved.kind,
        "resource_database": resolved.database,
        "resource_name": resolved.name,
    }


def link_json(datasette, request, link):
    """A link as the API and the pages show it, with the visits counted but not yet written."""
    path = datasette.urls.path(f"/-/l/{link['code']}")
    pending, last_visit = link_cache(datasette).visits.unwritten(link["code"])
    return {
        "code": link["code"],
        "path": path,
        "url": datasette.absolute_url(request, path),
        "page": datasette.urls.path(f"/-/links/{link['code']}"),
        "qr": path + "/qr.svg",
        "qr_png": path + "/qr.png",
        "target": link["target"],
        "title": link["title"],
        "owner_id": link["owner_id"],
        "expires_at": link["expires_at"],
        "max_visits": link["max_visits"],
        "disabled": link["disabled"],
        "visits": link["visits"] + pending,
        "last_visit_at": max(filter(None, [link["last_visit_at"], last_visit]), default=None),
        "created_at": link["created_at"],
        "updated_at": link["updated_at"],
    }


def require_signed_in(request):
    if actor_id(request.actor) is None:
        raise Forbidden("Sign in to manage short links")


async def is_admin(datasette, actor):
    return await datasette.allowed(action=SHORT_LINKS_ADMIN, actor=actor)


async def manageable_link(datasette, request):
    """(link, is_admin) for the URL's code if the actor owns it or administers links; anyone
    else is told there is no such link."""
    require_signed_in(request)
    visits = link_cache(datasette).visits
    code = request.url_vars["code"]
    link = await visits.read_counted(lambda: store_links.get_link(datasette, code))
    admin = await is_admin(datasette, request.actor)
    if link is None or (link["owner_id"] != actor_id(request.actor) and not admin):
        raise NotFound("No short link with this code that you may manage")
    return link, admin


async def plain_link_to(datasette, owner, target_key):
    """The owner's newest enabled link to ``target_key`` without expiry or maximum, or None."""
    for link in await store_links.links_to(datasette, owner, target_key):
        if not link["disabled"] and link["expires_at"] is None and link["max_visits"] is None:
            return link
    return None


async def create_link(datasette, request, data):
    """(link, created). With ``reuse`` and no code, expiry or maximum, the actor's enabled link
    to the same view (normalized target) without limits is returned instead of a new one."""
    require_signed_in(request)
    if not await datasette.allowed(action=SHORT_LINKS_CREATE, actor=request.actor):
        raise Forbidden("short-links-create is required to create short links")
    unknown = set(data) - {"target", "title", "code", "expires_at", "max_visits", "reuse"}
    if unknown:
        raise InvalidInput(f"Unknown fields: {', '.join(sorted(unknown))}")
    fields = await target_fields(datasette, data.get("target"))
    fields.update(
        title=parse_title(data.get("title")),
        owner_id=actor_id(request.actor),
        expires_at=parse_expiry(data.get("expires_at")),
        max_visits=parse_max_visits(data.get("max_visits")),
    )
    slug = data.get("code")
    plain = not slug and fields["expires_at"] is None and fields["max_visits"] is None
    if parse_flag(data.get("reuse"), "reuse") and plain:
        existing = await plain_link_to(datasette, fields["owner_id"], fields["target_key"])
        if existing is not None:
            return existing, False
    codes = [check_slug(slug)] if slug else (random_code() for _ in range(CODE_ATTEMPTS))
    code = await store_links.insert_link(datasette, codes, fields)
    await datasette.track_event(
        ShortLinkCreatedEvent(actor=request.actor, code=code, target=fields["target"])
    )
    return await store_links.get_link(datasette, code), True


async def change_link(datasette, request, link, admin, data):
    unknown = set(data) - CHANGEABLE
    if unknown:
        raise InvalidInput(f"Unknown fields: {', '.join(sorted(unknown))}")
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
        fields["disabled"] = int(parse_flag(data["disabled"], "disabled"))
    if not fields:
        raise InvalidInput("Nothing to change")
    await store_links.update_link(datasette, link["code"], fields)
    link_cache(datasette).forget_link(link["code"])
    if fields.get("disabled") or (admin and link["owner_id"] != actor_id(request.actor)):
        action = "short-link-disabled" if fields.get("disabled") else "short-link-updated"
        await plugin.audit.record(
            datasette,
            action,
            actor=request.actor,
            resource=f"short-link/{link['code']}",
            details={"owner_id": link["owner_id"], "fields": sorted(fields)},
        )
    return await store_links.get_link(datasette, link["code"])


async def remove_link(datasette, request, link):
    await store_links.delete_link(datasette, link["code"])
    cache = link_cache(datasette)
    cache.forget_link(link["code"])
    cache.visits.forget(link["code"])
    await plugin.audit.record(
        datasette,
        "short-link-deleted",
        actor=request.actor,
        resource=f"short-link/{link['code']}",
        details={"owner_id": link["owner_id"], "target": link["target"]},
    )
    await datasette.track_event(ShortLinkDeletedEvent(actor=request.actor, code=link["code"]))


async def page_of_links(datasette, request, everyone):
    """One page of links, newest first (``_size``, ``_next``), and the next page's token."""
    owner = None if everyone else actor_id(request.actor)

    async def fetch(after, limit):
        if after is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", after[1]):
            raise InvalidInput("'_next' must be the next token of the previous page")
        return await link_cache(datasette).visits.read_counted(
            lambda: store_links.list_links(datasette, owner, after=after, limit=limit)
        )

    key = ("created_at", "code")
    links, paging = await read_page(request, fetch, key, PAGE_SIZE, MAX_PAGE_SIZE)
    return links, paging["next"]


async def wants_everyone(datasette, request):
    if request.args.get("all") != "1":
        return False
    if not await is_admin(datasette, request.actor):
        raise Forbidden("short-links-admin is required to list everyone's links")
    return True


@route(methods=("GET", "POST"))
async def links_api(datasette, request):
    """GET: your links (``?all=1``: everyone's, for admins). POST: create one."""
    require_signed_in(request)
    if request.method == "POST":
        link, created = await create_link(datasette, request, await read_fields(request))
        body = {"ok": True, "created": created, "link": link_json(datasette, request, link)}
        return Response.json(body, status=201 if created else 200)
    links, token = await page_of_links(datasette, request, await wants_everyone(datasette, request))
    return Response.json(
        {
            "ok": True,
            "links": [link_json(datasette, request, link) for link in links],
            **page_links(request, token),
        }
    )


@route(methods=("GET", "POST", "DELETE"))
async def link_api(datasette, request):
    """GET one link with its visits per day; POST changes it; DELETE deletes it."""
    link, admin = await manageable_link(datasette, request)
    if request.method == "DELETE":
        return await delete_response(datasette, request, link)
    if request.method == "POST":
        data = await read_fields(request)
        link = await change_link(datasette, request, link, admin, data)
    body = link_json(datasette, request, link)
    body["days"] = await store_links.link_days(datasette, link["code"])
    return Response.json({"ok": True, "link": body})


@route(methods=("POST", "DELETE"))
async def link_delete_api(datasette, request):
    """``POST .../delete``: for clients that cannot send DELETE."""
    link, _ = await manageable_link(datasette, request)
    return await delete_response(datasette, request, link)


async def delete_response(datasette, request, link):
    await remove_link(datasette, request, link)
    return Response.json({"ok": True, "deleted": link["code"]})
