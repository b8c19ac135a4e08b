"""Bookmarks: the /-/bookmarks pages, the JSON API, export/import and the link-rot scan."""

import asyncio
import datetime
import html
import re
import sqlite3

from datasette.utils.asgi import Response
from datasette_internal_db import InvalidInput, jobs
from datasette_internal_db.text import CONTROL_CHARACTERS
from datasette_internal_db.web import int_param, json_error

from . import store
from .access import BOOKMARKS_CREATE, may_view
from .events import BookmarkCreatedEvent, BookmarkDeletedEvent
from .migrations import PLUGIN
from .runtime import runtime
from .targets import Target, normalize, parse_target
from .web import actor_id, read_input, render, render_items

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
MAX_TITLE = 300
MAX_NOTE = 10_000
MAX_TAGS = 20
MAX_TAG = 50
MAX_IMPORT = 5_000
SCAN_BATCH = 100


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


def stored_target(bookmark):
    return Target(
        bookmark["resource_kind"],
        bookmark["resource_database"],
        bookmark["resource_name"],
        bookmark["resource_row"],
    )


def bookmark_json(datasette, bookmark, viewer_id):
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


async def bookmark_fields(datasette, data):
    """Check every field of one bookmark's input; returns the arguments for store.save_bookmark."""
    url = normalize(data.get("url"), datasette.setting("base_url"))
    target = await store.resolve_target(datasette, parse_target(url))
    title = parse_text(data, "title", MAX_TITLE) or default_title(target)
    note = parse_text(data, "note", MAX_NOTE)
    return {
        "url": url,
        "title": CONTROL_CHARACTERS.sub(" ", title),
        "note": note,
        "tags": parse_tags(data.get("tags")),
        "shared": parse_shared(data.get("shared")),
        "target": target,
    }


async def check_may_create(datasette, request):
    if actor_id(request) is None:
        raise PermissionError("Sign in to bookmark pages")
    if not await datasette.allowed(action=BOOKMARKS_CREATE, actor=request.actor):
        raise PermissionError("bookmarks-create is required to bookmark pages")


async def save(datasette, request, data):
    await check_may_create(datasette, request)
    fields = await bookmark_fields(datasette, data)
    bookmark_id, created = await store.save_bookmark(datasette, actor_id(request), **fields)
    if created:
        await datasette.track_event(
            BookmarkCreatedEvent(actor=request.actor, bookmark_id=bookmark_id, url=fields["url"])
        )
    return await store.get_bookmark(datasette, bookmark_id), created


async def remove(datasette, request, bookmark):
    await store.delete_bookmark(datasette, bookmark["id"])
    await datasette.track_event(
        BookmarkDeletedEvent(actor=request.actor, bookmark_id=bookmark["id"])
    )


async def visible_bookmark(datasette, request, bookmark_id):
    """(bookmark, is_owner), or (None, False) when it is missing or not the actor's to see."""
    bookmark = await store.get_bookmark(datasette, int(bookmark_id))
    if bookmark is None:
        return None, False
    if bookmark["owner_id"] == actor_id(request):
        return bookmark, True
    if bookmark["shared"] and await may_view(datasette, request.actor, stored_target(bookmark)):
        return bookmark, False
    return None, False


def parse_listing_args(request):
    args = request.args
    scope = args.get("scope") or "all"
    if scope not in ("all", "mine", "shared"):
        raise InvalidInput("scope must be all, mine or shared")
    before = int_param(request, "before", maximum=store.NO_CURSOR)
    limit = int_param(request, "limit", PAGE_SIZE, minimum=1, maximum=MAX_PAGE_SIZE)
    # Control characters cannot be in a tag, and mean nothing in a search.
    tag = CONTROL_CHARACTERS.sub(" ", args.get("tag") or "").strip().lower() or None
    search = CONTROL_CHARACTERS.sub(" ", args.get("q") or "").strip() or None
    return {"scope": scope, "before": before, "limit": limit, "tag": tag, "search": search}


async def visible_page(datasette, request, scope, before, limit, tag, search):
    """One page of bookmarks the actor may see: their own, and shared ones whose target they
    may view. Returns (bookmarks, next_before); the last page may come back empty."""
    viewer = actor_id(request)
    checks = runtime(datasette).view_checks
    found = []
    cursor = before
    # Shared bookmarks the actor may not view are skipped; a few rounds fill most pages.
    for _ in range(5):
        rows = await store.list_bookmarks(
            datasette, viewer, scope=scope, tag=tag, search=search, before=cursor, limit=limit
        )
        for row in rows:
            if row["owner_id"] == viewer or await checks.may_view(
                datasette, request.actor, stored_target(row)
            ):
                found.append(row)
                if len(found) == limit:
                    return found, row["id"]
        if len(rows) < limit:
            return found, None
        cursor = rows[-1]["id"]
    return found, cursor


# ---------------------------------------------------------------- HTML pages


async def no_tags():
    return []


async def list_page(datasette, request):
    try:
        listing = parse_listing_args(request)
    except InvalidInput as error:
        return json_error(400, str(error))
    viewer = actor_id(request)
    checks = runtime(datasette).view_checks
    (bookmarks, next_before), tags, show_home = await asyncio.gather(
        visible_page(datasette, request, **listing),
        store.owner_tags(datasette, viewer) if viewer else no_tags(),
        # Datasette's breadcrumbs ask view-instance on every page; the list page asks the
        # plugin's short-lived view checks instead (it only decides whether "home" is shown).
        checks.allowed(datasette, request.actor, "view-instance", None),
    )
    job_id = request.args.get("job") or None
    if job_id and not re.fullmatch(r"[0-9a-f]{16}", job_id):
        job_id = None
    items = [bookmark_json(datasette, b, viewer) for b in bookmarks]
    # Plain text: every use of Datasette's PrefixedUrlString goes through a slow __getattribute__.
    list_url = str(datasette.urls.path("/-/bookmarks"))
    items_html = render_items(
        datasette, "bookmarks_item.html", "bookmark", items, list_url=list_url
    )
    html_text = await render(
        datasette,
        request,
        "bookmarks_list.html",
        {
            "bookmarks": items,
            "items_html": items_html,
            "next": next_before,
            "filters": {k: request.args[k] for k in ("scope", "tag", "q") if request.args.get(k)},
            "listing": listing,
            "tags": tags,
            "list_url": list_url,
            "show_home": show_home,
            "signed_in": viewer is not None,
            "job_id": job_id,
        },
    )
    return Response.html(html_text)


async def new_page(datasette, request):
    """GET: a form prefilled from the page being bookmarked. POST: save it (form fields)."""
    errors = []
    if request.method == "POST":
        data = {}
        try:
            data = await read_input(request)
            _, created = await save(datasette, request, data)
            datasette.add_message(request, "Bookmark saved" if created else "Bookmark updated")
            return Response.redirect(datasette.urls.path("/-/bookmarks"))
        except PermissionError as error:
            return json_error(403, str(error))
        except InvalidInput as error:
            errors.append(str(error))
    else:
        data = {"url": request.args.get("url", ""), "title": request.args.get("title", "")}
        try:
            await check_may_create(datasette, request)
        except PermissionError as error:
            return json_error(403, str(error))
        try:
            url = normalize(data["url"], datasette.setting("base_url")) if data["url"] else None
        except InvalidInput as error:
            errors.append(str(error))
        else:
            existing = url and await store.find_bookmark(datasette, actor_id(request), url)
            if existing:
                data.update(
                    title=existing["title"],
                    note=existing["note"],
                    tags=", ".join(existing["tags"]),
                    shared=existing["shared"],
                )
    html_text = await render(
        datasette, request, "bookmarks_new.html", {"data": data, "errors": errors}
    )
    return Response.html(html_text, status=400 if errors else 200)


async def delete_form(datasette, request):
    if request.method != "POST":
        return json_error(405, "POST to delete a bookmark")
    bookmark, mine = await visible_bookmark(datasette, request, request.url_vars["id"])
    if bookmark is None or not mine:
        return json_error(404, "No bookmark with this id that you may change")
    await remove(datasette, request, bookmark)
    return Response.redirect(datasette.urls.path("/-/bookmarks"))


async def scan_form(datasette, request):
    if request.method != "POST":
        return json_error(405, "POST to start a link-rot scan")
    if actor_id(request) is None:
        return json_error(403, "Sign in to scan your bookmarks")
    job_id = await start_scan(datasette, request.actor, actor_id(request))
    return Response.redirect(datasette.urls.path(f"/-/bookmarks?job={job_id}"))


async def export_netscape(datasette, request):
    if actor_id(request) is None:
        return json_error(403, "Sign in to export your bookmarks")
    bookmarks = await store.owner_bookmarks(datasette, actor_id(request))
    lines = [
        "<!DOCTYPE NETSCAPE-Bookmark-file-1>",
        '<META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=UTF-8">',
        "<TITLE>Bookmarks</TITLE>",
        "<H1>Bookmarks</H1>",
        "<DL><p>",
    ]
    for bookmark in bookmarks:
        url = datasette.absolute_url(request, datasette.urls.path(bookmark["url"]))
        added = int(datetime.datetime.fromisoformat(bookmark["created_at"]).timestamp())
        lines.append(
            f'    <DT><A HREF="{html.escape(url)}" ADD_DATE="{added}"'
            f' TAGS="{html.escape(",".join(bookmark["tags"]))}"'
            f' PRIVATE="{0 if bookmark["shared"] else 1}">{html.escape(bookmark["title"])}</A>'
        )
        if bookmark["note"]:
            lines.append(f"    <DD>{html.escape(bookmark['note'])}")
    lines.append("</DL><p>")
    return Response(
        "\n".join(lines) + "\n",
        content_type="text/html; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="bookmarks.html"'},
    )


# ---------------------------------------------------------------- JSON API


async def api_bookmarks(datasette, request):
    """GET: a page of visible bookmarks. POST: bookmark a URL (again: update it)."""
    viewer = actor_id(request)
    if request.method == "POST":
        try:
            bookmark, created = await save(datasette, request, await read_input(request))
        except PermissionError as error:
            return json_error(403, str(error))
        except InvalidInput as error:
            return json_error(400, str(error))
        body = {
            "ok": True,
            "created": created,
            "bookmark": bookmark_json(datasette, bookmark, viewer),
        }
        return Response.json(body, status=201 if created else 200)
    if request.method != "GET":
        return json_error(405, "Use GET or POST")
    try:
        listing = parse_listing_args(request)
    except InvalidInput as error:
        return json_error(400, str(error))
    bookmarks, next_before = await visible_page(datasette, request, **listing)
    return Response.json(
        {
            "ok": True,
            "bookmarks": [bookmark_json(datasette, b, viewer) for b in bookmarks],
            "next": next_before,
        }
    )


async def api_bookmark(datasette, request):
    """GET one; POST changes title, note, tags, shared; DELETE removes. Owner only for changes."""
    bookmark, mine = await visible_bookmark(datasette, request, request.url_vars["id"])
    if bookmark is None or (request.method != "GET" and not mine):
        return json_error(404, "No bookmark with this id that you may see or change")
    if request.method == "DELETE":
        await remove(datasette, request, bookmark)
        return Response.json({"ok": True, "deleted": bookmark["id"]})
    if request.method == "POST":
        try:
            data = await read_input(request)
            unknown = set(data) - {"title", "note", "tags", "shared"}
            if unknown:
                raise InvalidInput(f"Unknown fields: {', '.join(sorted(unknown))}")
            await store.update_bookmark(
                datasette,
                bookmark["id"],
                title=CONTROL_CHARACTERS.sub(
                    " ", parse_text(data, "title", MAX_TITLE, bookmark["title"])
                )
                or bookmark["title"],
                note=parse_text(data, "note", MAX_NOTE, bookmark["note"]),
                tags=parse_tags(data["tags"]) if "tags" in data else bookmark["tags"],
                shared=parse_shared(data["shared"]) if "shared" in data else bookmark["shared"],
            )
        except InvalidInput as error:
            return json_error(400, str(error))
        bookmark = await store.get_bookmark(datasette, bookmark["id"])
    elif request.method != "GET":
        return json_error(405, "Use GET, POST or DELETE")
    return Response.json(
        {"ok": True, "bookmark": bookmark_json(datasette, bookmark, actor_id(request))}
    )


EXPORT_FIELDS = ("url", "title", "note", "tags", "shared", "created_at")


async def api_export(datasette, request):
    if actor_id(request) is None:
        return json_error(403, "Sign in to export your bookmarks")
    bookmarks = await store.owner_bookmarks(datasette, actor_id(request))
    return Response.json(
        {
            "ok": True,
            "format": "datasette-internal-bookmarks/1",
            "bookmarks": [{field: b[field] for field in EXPORT_FIELDS} for b in bookmarks],
        }
    )


async def api_import(datasette, request):
    """Import an export: every item is checked first, then all are saved in one transaction."""
    if request.method != "POST":
        return json_error(405, "POST an export to import it")
    try:
        await check_may_create(datasette, request)
    except PermissionError as error:
        return json_error(403, str(error))
    try:
        data = await read_input(request)
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
    except InvalidInput as error:
        return json_error(400, str(error))
    created = await store.save_bookmarks(datasette, actor_id(request), checked)
    for bookmark_id, url in created:
        await datasette.track_event(
            BookmarkCreatedEvent(actor=request.actor, bookmark_id=bookmark_id, url=url)
        )
    return Response.json({"ok": True, "imported": len(checked), "created": len(created)})


async def api_scan(datasette, request):
    if request.method != "POST":
        return json_error(405, "POST to start a link-rot scan")
    if actor_id(request) is None:
        return json_error(403, "Sign in to scan your bookmarks")
    job_id = await start_scan(datasette, request.actor, actor_id(request))
    return Response.json(
        {
            "ok": True,
            "job_id": job_id,
            "job_url": datasette.urls.path(f"/-/internal/jobs/{job_id}.json"),
        },
        status=202,
    )


# ---------------------------------------------------------------- link rot


async def start_scan(datasette, actor, owner):
    """Check each of the actor's bookmarks against the catalog, as a core job with progress."""
    ids = await store.owner_bookmark_ids(datasette, owner)

    async def work(job):
        await datasette.refresh_schemas()
        for start in range(0, len(ids), SCAN_BATCH):
            if await job.cancel_requested():
                return
            batch = [
                await store.get_bookmark(datasette, i) for i in ids[start : start + SCAN_BATCH]
            ]
            results = []
            for bookmark in batch:
                if bookmark is None:
                    continue
                target = stored_target(bookmark)
                if not await may_view(datasette, actor, target):
                    reason = "you may no longer view this page"
                else:
                    try:
                        reason = await store.missing_part(datasette, target)
                    except (sqlite3.Error, KeyError, ValueError) as error:
                        reason = None
                        await job.error(f"bookmark {bookmark['id']}: {error}")
                results.append((bookmark["id"], reason))
            await store.mark_checked(datasette, results)
            await job.advance(len(batch))

    return await jobs.start(
        datasette, PLUGIN, "link-rot-scan", work, actor_id=owner, total=len(ids)
    )
