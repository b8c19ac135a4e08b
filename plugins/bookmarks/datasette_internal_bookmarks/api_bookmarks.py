"""The bookmarks JSON API under ``/-/bookmarks/api/``, and the one way each change is made
(save, change, delete), which the HTML pages use too."""

from datasette.utils.asgi import Forbidden, NotFound, Response
from datasette_internal_db import (
    InvalidInput,
    next_token,
    page_after,
    page_links,
    page_size,
    route,
    web,
)
from datasette_internal_db.text import CONTROL_CHARACTERS
from datasette_internal_db.web import read_fields

from . import linkrot, store, store_bookmarks
from .access import BOOKMARKS_CREATE, actor_id, may_view, may_view_recently
from .events import BookmarkCreatedEvent, BookmarkDeletedEvent
from .targets import normalize, parse_target, stored_target

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
MAX_TITLE = 300
MAX_NOTE = 10_000
MAX_TAGS = 20
MAX_TAG = 50
MAX_IMPORT = 5_000
CHANGEABLE = {"url", "title", "note", "tags", "shared"}
EXPORT_FIELDS = ("url", "title", "note", "tags", "shared", "created_at")


def parse_tags(value):
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
        raise InvalidInput("tags must be a list of strings or a comma-separated string")
    tags = []
    for raw in value:
        tag = " ".join(raw.split()).lower()
        if not tag:
            continue
        if len(tag) > MAX_TAG or CONTROL_CHARACTERS.search(tag) or "," in tag:
            raise InvalidInput(f"Each tag is at most {MAX_TAG} characters, without commas")
        if tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise InvalidInput(f"At most {MAX_TAGS} tags per bookmark")
    return tags


def parse_text(data, key, limit, default=""):
    value = data.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str) or len(value) > limit:
        raise InvalidInput(f"{key} must be a string of at most {limit} characters")
    return value.strip()


def parse_title(data, default=""):
    return CONTROL_CHARACTERS.sub(" ", parse_text(data, "title", MAX_TITLE, default))


def parse_shared(value):
    if value in (None, ""):
        return False
    if isinstance(value, bool):
        return value
    if value in ("1", "true", "on", 1, 0, "0", "false"):
        return value in ("1", "true", "on", 1)
    raise InvalidInput("shared must be true or false")


def default_title(target):
    if target.kind == "row":
        return f"{target.name}: {target.row}"
    if target.kind in ("table", "query"):
        return target.name
    if target.kind == "sql":
        return f"SQL query on {target.database}"
    if target.kind == "database":
        return target.database
    return "Datasette"


def bookmark_json(datasette, bookmark, viewer_id):
    # Plain text: every use of Datasette's PrefixedUrlString goes through a slow __getattribute__.
    return {
        "id": bookmark["id"],
        "url": str(datasette.urls.path(bookmark["url"])),
        "path": bookmark["url"],
        "title": bookmark["title"],
        "note": bookmark["note"],
        "note_html": bookmark["note_html"],
        "tags": bookmark["tags"],
        "shared": bookmark["shared"],
        "owner_id": bookmark["owner_id"],
        "mine": bookmark["owner_id"] == viewer_id,
        "kind": bookmark["resource_kind"],
        "broken": bookmark["broken"],
        "checked_at": bookmark["checked_at"],
        "created_at": bookmark["created_at"],
        "updated_at": bookmark["updated_at"],
    }


async def url_fields(datasette, value):
    url = normalize(value, datasette.setting("base_url"))
    return url, await store.resolve_target(datasette, parse_target(url))


async def bookmark_fields(datasette, data):
    """Every field of one bookmark's input, checked: the arguments of save_bookmark."""
    url, target = await url_fields(datasette, data.get("url"))
    return {
        "url": url,
        "title": parse_title(data) or default_title(target),
        "note": parse_text(data, "note", MAX_NOTE),
        "tags": parse_tags(data.get("tags")),
        "shared": parse_shared(data.get("shared")),
        "target": target,
    }


async def require_may_bookmark(datasette, actor):
    if actor_id(actor) is None:
        raise Forbidden("Sign in to bookmark pages")
    if not await datasette.allowed(action=BOOKMARKS_CREATE, actor=actor):
        raise Forbidden("bookmarks-create is required to bookmark pages")


def require_signed_in(request, doing):
    if actor_id(request.actor) is None:
        raise Forbidden(f"Sign in to {doing}")


async def save(datasette, request, data):
    """Bookmark a page, or update the actor's bookmark of the same view: (bookmark, created)."""
    await require_may_bookmark(datasette, request.actor)
    fields = await bookmark_fields(datasette, data)
    bookmark_id, created = await store_bookmarks.save_bookmark(
        datasette, actor_id(request.actor), **fields
    )
    if created:
        await datasette.track_event(
            BookmarkCreatedEvent(actor=request.actor, bookmark_id=bookmark_id, url=fields["url"])
        )
    return await store_bookmarks.get_bookmark(datasette, bookmark_id), created


async def change(datasette, bookmark, data):
    """Change any of a bookmark's fields; those not in ``data`` keep their value."""
    unknown = set(data) - CHANGEABLE
    if unknown:
        raise InvalidInput(f"Unknown fields: {', '.join(sorted(unknown))}")
    if "url" in data:
        url, target = await url_fields(datasette, data["url"])
    else:
        url, target = bookmark["url"], stored_target(bookmark)
    await store_bookmarks.update_bookmark(
        datasette,
        bookmark["id"],
        title=parse_title(data, bookmark["title"]) or bookmark["title"],
        note=parse_text(data, "note", MAX_NOTE, bookmark["note"]),
        tags=parse_tags(data["tags"]) if "tags" in data else bookmark["tags"],
        shared=parse_shared(data["shared"]) if "shared" in data else bookmark["shared"],
        url=url,
        target=target,
    )
    return await store_bookmarks.get_bookmark(datasette, bookmark["id"])


async def remove(datasette, request, bookmark):
    await store_bookmarks.delete_bookmark(datasette, bookmark["id"])
    await datasette.track_event(
        BookmarkDeletedEvent(actor=request.actor, bookmark_id=bookmark["id"])
    )


async def visible_bookmark(datasette, request, changing=False):
    """The URL's bookmark if it is the actor's, or (to read it) shared with a target the actor
    may view; anyone else is told there is no such bookmark."""
    bookmark = await store_bookmarks.get_bookmark(datasette, int(request.url_vars["id"]))
    if bookmark is not None:
        if bookmark["owner_id"] == actor_id(request.actor):
            return bookmark
        if not changing and bookmark["shared"]:
            if await may_view(datasette, request.actor, stored_target(bookmark)):
                return bookmark
    raise NotFound("No bookmark with this id that you may see or change")


def listing_args(request):
    args = request.args
    scope = args.get("scope") or "all"
    if scope not in ("all", "mine", "shared"):
        raise InvalidInput("scope must be all, mine or shared")
    after = page_after(request, 1)
    before = web.parse_int(after[0], "_next", maximum=store_bookmarks.NO_CURSOR) if after else None
    # Control characters cannot be in a tag, and mean nothing in a search.
    tag = CONTROL_CHARACTERS.sub(" ", args.get("tag") or "").strip().lower() or None
    search = CONTROL_CHARACTERS.sub(" ", args.get("q") or "").strip() or None
    return {
        "scope": scope,
        "before": before,
        "limit": page_size(request, PAGE_SIZE, maximum=MAX_PAGE_SIZE),
        "tag": tag,
        "search": search,
    }


async def visible_page(datasette, request, scope, before, limit, tag, search):
    """One page of bookmarks the actor may see: their own, and shared ones whose target they
    may view. Returns (bookmarks, next token); the last page may come back empty."""
    viewer = actor_id(request.actor)
    found = []
    cursor = before
    # (kind, database, name) → may view: the rows of one table share one answer (as they share
    # Datasette's check), asked once per page instead of once per row.
    answers = {}

    async def may_view_shared(row):
        key = (row["resource_kind"], row["resource_database"], row["resource_name"])
        if key not in answers:
            answers[key] = await may_view_recently(datasette, request.actor, stored_target(row))
        return answers[key]

    # Shared bookmarks the actor may not view are skipped; a few rounds fill most pages.
    for _ in range(5):
        rows = await store_bookmarks.list_bookmarks(
            datasette, viewer, scope=scope, tag=tag, search=search, before=cursor, limit=limit
        )
        for row in rows:
            if row["owner_id"] == viewer or await may_view_shared(row):
                found.append(row)
                if len(found) == limit:
                    return found, next_token(row["id"])
        if len(rows) < limit:
            return found, None
        cursor = rows[-1]["id"]
    return found, next_token(cursor)


@route(methods=("GET", "POST"))
async def bookmarks_api(datasette, request):
    """GET: a page of visible bookmarks. POST: bookmark a URL (again: update it)."""
    if request.method == "POST":
        bookmark, created = await save(datasette, request, await read_fields(request))
        body = {
            "ok": True,
            "created": created,
            "bookmark": bookmark_json(datasette, bookmark, actor_id(request.actor)),
        }
        return Response.json(body, status=201 if created else 200)
    bookmarks, token = await visible_page(datasette, request, **listing_args(request))
    viewer = actor_id(request.actor)
    return Response.json(
        {
            "ok": True,
            "bookmarks": [bookmark_json(datasette, b, viewer) for b in bookmarks],
            **page_links(request, token),
        }
    )


@route(methods=("GET", "POST", "DELETE"))
async def bookmark_api(datasette, request):
    """GET one; POST changes url, title, note, tags, shared; DELETE removes. Owner only for
    changes."""
    bookmark = await visible_bookmark(datasette, request, changing=request.method != "GET")
    if request.method == "DELETE":
        await remove(datasette, request, bookmark)
        return Response.json({"ok": True, "deleted": bookmark["id"]})
    if request.method == "POST":
        bookmark = await change(datasette, bookmark, await read_fields(request))
    return Response.json(
        {"ok": True, "bookmark": bookmark_json(datasette, bookmark, actor_id(request.actor))}
    )


@route()
async def export_api(datasette, request):
    require_signed_in(request, "export your bookmarks")
    bookmarks = await store_bookmarks.owner_bookmarks(datasette, actor_id(request.actor))
    return Response.json(
        {
            "ok": True,
            "format": "datasette-internal-bookmarks/1",
            "bookmarks": [{field: b[field] for field in EXPORT_FIELDS} for b in bookmarks],
        }
    )


@route(methods=("POST",))
async def import_api(datasette, request):
    """Import an export: every item is checked first, then all are saved in one transaction."""
    await require_may_bookmark(datasette, request.actor)
    data = await read_fields(request)
    items = data.get("bookmarks")
    if not isinstance(items, list) or len(items) > MAX_IMPORT:
        raise InvalidInput(f"bookmarks must be a list of at most {MAX_IMPORT} objects")
    checked = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise InvalidInput(f"bookmarks[{index}] is not an object")
        try:
            checked.append(await bookmark_fields(datasette, item))
        except InvalidInput as error:
            raise InvalidInput(f"bookmarks[{index}]: {error}") from None
    created = await store_bookmarks.save_bookmarks(datasette, actor_id(request.actor), checked)
    for bookmark_id, url in created:
        await datasette.track_event(
            BookmarkCreatedEvent(actor=request.actor, bookmark_id=bookmark_id, url=url)
        )
    return Response.json({"ok": True, "imported": len(checked), "created": len(created)})


@route(methods=("POST",))
async def scan_api(datasette, request):
    require_signed_in(request, "scan your bookmarks")
    job_id = await linkrot.start_scan(datasette, request.actor)
    return Response.json(
        {
            "ok": True,
            "job_id": job_id,
            "job_url": datasette.urls.path(f"/-/internal/jobs/{job_id}.json"),
            "job_page": datasette.urls.path(f"/-/internal/jobs/{job_id}"),
        },
        status=202,
    )
