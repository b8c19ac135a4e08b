"""HTML pages: ``/-/bookmarks`` (list, bookmark a page, edit one, export) and ``/-/links``
(list and create, one link's page, its QR code), and the items they add to Datasette's menus.
Forms post here; every change goes through the same functions as the JSON API."""

import datetime
import html
import io
import re
import weakref
from urllib.parse import quote_plus

from datasette.utils.asgi import NotFound, Response
from datasette_internal_db import InvalidInput, asset_url, page_links, recent_answers, route

from . import store_bookmarks, store_links
from .access import BOOKMARKS_CREATE, SHORT_LINKS_CREATE, actor_id
from .api_bookmarks import (
    bookmark_json,
    change,
    listing_args,
    remove,
    require_may_bookmark,
    require_signed_in,
    save,
    visible_bookmark,
    visible_page,
)
from .api_links import (
    create_link,
    is_admin,
    link_json,
    manageable_link,
    page_of_links,
    wants_everyone,
)
from .bodies import form_fields
from .fragments import render_items
from .linkrot import start_scan
from .redirect import link_cache
from .targets import normalize

JOB_ID = re.compile(r"[0-9a-f]{16}")
BOOKMARK_FIELDS = ("url", "title", "note", "tags", "shared")
LINK_FIELDS = ("target", "title", "code", "expires_at", "max_visits", "expires_local")


async def render(datasette, request, template, context, status=200):
    html_text = await datasette.render_template(template, context, request=request)
    return Response.html(html_text, status=status)


def bookmarks_crumbs(datasette, *trail):
    if not trail:
        return [("Bookmarks", None)]
    return [("Bookmarks", datasette.urls.path("/-/bookmarks")), *trail]


def links_crumbs(datasette, *trail):
    if not trail:
        return [("Short links", None)]
    return [("Short links", datasette.urls.path("/-/links")), *trail]


# ---------------------------------------------------------------- bookmarks


@route()
async def bookmarks_page(datasette, request):
    listing = listing_args(request)
    viewer = actor_id(request.actor)
    bookmarks, token = await visible_page(datasette, request, **listing)
    tags = await store_bookmarks.owner_tags(datasette, viewer) if viewer else []
    job_id = request.args.get("job") or ""
    items = [bookmark_json(datasette, b, viewer) for b in bookmarks]
    list_url = str(datasette.urls.path("/-/bookmarks"))
    context = {
        "breadcrumbs": bookmarks_crumbs(datasette),
        "bookmarks": items,
        "items_html": render_items(
            datasette,
            "datasette_internal_bookmarks_item.html",
            "bookmark",
            items,
            list_url=list_url,
        ),
        "next_url": page_links(request, token)["next_url"],
        "listing": listing,
        "tags": tags,
        "list_url": list_url,
        "signed_in": viewer is not None,
        "job_id": job_id if JOB_ID.fullmatch(job_id) else None,
    }
    return await render(datasette, request, "datasette_internal_bookmarks_list.html", context)


async def bookmark_form(datasette, request, data, errors, bookmark=None):
    trail = ("Edit bookmark", None) if bookmark else ("Bookmark a page", None)
    context = {
        "breadcrumbs": bookmarks_crumbs(datasette, trail),
        "data": data,
        "errors": errors,
        "bookmark": bookmark,
    }
    return await render(
        datasette,
        request,
        "datasette_internal_bookmarks_form.html",
        context,
        status=400 if errors else 200,
    )


@route(methods=("GET", "POST"))
async def new_bookmark_page(datasette, request):
    """GET: a form prefilled from the page being bookmarked. POST: save it."""
    await require_may_bookmark(datasette, request.actor)
    if request.method == "POST":
        data = await form_fields(request, BOOKMARK_FIELDS)
        try:
            _, created = await save(datasette, request, data)
        except InvalidInput as error:
            return await bookmark_form(datasette, request, data, [str(error)])
        datasette.add_message(request, "Bookmark saved" if created else "Bookmark updated")
        return Response.redirect(datasette.urls.path("/-/bookmarks"))
    data = {"url": request.args.get("url", ""), "title": request.args.get("title", "")}
    errors = []
    try:
        url = normalize(data["url"], datasette.setting("base_url")) if data["url"] else None
    except InvalidInput as error:
        errors.append(str(error))
    else:
        existing = url and await store_bookmarks.find_bookmark(
            datasette, actor_id(request.actor), url
        )
        if existing:
            data = form_data(existing)
    return await bookmark_form(datasette, request, data, errors)


def form_data(bookmark):
    return {**bookmark, "url": bookmark["url"], "tags": ", ".join(bookmark["tags"])}


@route(methods=("GET", "POST"))
async def edit_bookmark_page(datasette, request):
    """One of the actor's bookmarks: every field, and delete."""
    bookmark = await visible_bookmark(datasette, request, changing=True)
    if request.method == "POST":
        data = await form_fields(request, BOOKMARK_FIELDS)
        data["shared"] = data.get("shared") or False
        try:
            await change(datasette, bookmark, data)
        except InvalidInput as error:
            return await bookmark_form(datasette, request, data, [str(error)], bookmark)
        datasette.add_message(request, "Bookmark updated")
        return Response.redirect(datasette.urls.path("/-/bookmarks"))
    return await bookmark_form(datasette, request, form_data(bookmark), [], bookmark)


@route(methods=("POST",))
async def delete_bookmark_form(datasette, request):
    bookmark = await visible_bookmark(datasette, request, changing=True)
    await remove(datasette, request, bookmark)
    datasette.add_message(request, f"Bookmark deleted: {bookmark['title']}")
    return Response.redirect(datasette.urls.path("/-/bookmarks"))


@route(methods=("POST",))
async def scan_form(datasette, request):
    require_signed_in(request, "scan your bookmarks")
    job_id = await start_scan(datasette, request.actor)
    return Response.redirect(datasette.urls.path(f"/-/bookmarks?job={job_id}"))


@route()
async def export_netscape(datasette, request):
    require_signed_in(request, "export your bookmarks")
    bookmarks = await store_bookmarks.owner_bookmarks(datasette, actor_id(request.actor))
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


# ---------------------------------------------------------------- short links


@route(methods=("GET", "POST"))
async def links_page(datasette, request):
    """Your short links, and a form to create one (it posts here)."""
    require_signed_in(request, "create and manage short links")
    errors, created, data = [], None, {"target": request.args.get("target", "")}
    if request.method == "POST":
        data = await form_fields(request, LINK_FIELDS)
        # links.js sends expires_at in UTC; without it the datetime-local field reads as UTC,
        # as the form then says.
        expires_local = data.pop("expires_local", None)
        if not data.get("expires_at"):
            data["expires_at"] = expires_local
        try:
            link, _ = await create_link(datasette, request, data)
            created = link_json(datasette, request, link)
        except InvalidInput as error:
            errors.append(str(error))
    everyone = await wants_everyone(datasette, request)
    links, token = await page_of_links(datasette, request, everyone)
    context = {
        "breadcrumbs": links_crumbs(datasette),
        "links": [link_json(datasette, request, link) for link in links],
        "errors": errors,
        "created": created,
        "data": data,
        "everyone": everyone,
        "may_see_everyone": everyone or await is_admin(datasette, request.actor),
        "next_url": page_links(request, token)["next_url"],
        "may_create": await datasette.allowed(action=SHORT_LINKS_CREATE, actor=request.actor),
    }
    return await render(
        datasette,
        request,
        "datasette_internal_bookmarks_links.html",
        context,
        status=400 if errors else 200,
    )


@route()
async def link_page(datasette, request):
    """One link: its short URL to copy, its QR code, visits per day, edit and delete."""
    link, _ = await manageable_link(datasette, request)
    shown = link_json(datasette, request, link)
    context = {
        "breadcrumbs": links_crumbs(datasette, (link["code"], None)),
        "link": shown,
        "days": await store_links.link_days(datasette, link["code"]),
    }
    return await render(datasette, request, "datasette_internal_bookmarks_link.html", context)


QR_KINDS = {"svg": "image/svg+xml", "png": "image/png"}


@route()
async def qr_code(datasette, request):
    """The QR code of the absolute short URL, as a standalone SVG (with its namespace, so a
    browser shows it as an image) or a PNG."""
    code = request.url_vars["code"]
    if await link_cache(datasette).link(datasette, code) is None:
        raise NotFound("No short link with this code")
    url = datasette.absolute_url(request, datasette.urls.path(f"/-/l/{code}"))
    kind = request.url_vars["kind"]
    # Imported on first use, not at startup: segno's import was 75-120 ms of every Datasette
    # start here (load 7), and its ~1,200 objects would be walked by every full GC pass.
    import segno

    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind=kind, scale=6, border=4)
    return Response(
        buffer.getvalue(),
        content_type=QR_KINDS[kind],
        headers={"Cache-Control": "private, max-age=3600"},
    )


# ---------------------------------------------------------------- menu items


def plain_path(datasette, path):
    """``datasette.urls.path`` as plain text (as every URL these menus give Datasette's pages):
    Datasette's PrefixedUrlString makes each later use (``+``, every attribute a template reads)
    a slow Python-level call, on every page."""
    return str(datasette.urls.path(path))


def current_path(request):
    return request.path + ("?" + request.query_string if request.query_string else "")


MENU_ACTIONS = (BOOKMARKS_CREATE, SHORT_LINKS_CREATE)


class MenuUrls:
    """What the menus add to every page that is the same on every page, worked out once per
    Datasette (its base_url is fixed): a table page asks for all of it on every request."""

    def __init__(self, datasette):
        self.new_bookmark = plain_path(datasette, "/-/bookmarks/new?")
        self.links_api = plain_path(datasette, "/-/l/api/links")
        self.menu_links = (
            {"href": plain_path(datasette, "/-/bookmarks"), "label": "Bookmarks"},
            {"href": plain_path(datasette, "/-/links"), "label": "Short links"},
        )
        self.scripts = (
            asset_url("datasette-internal-db", "datasette-internal.js"),
            asset_url("datasette-internal-bookmarks", "copy-short-link.js"),
        )
        self.styles = (
            asset_url("datasette-internal-db", "datasette-internal.css"),
            asset_url("datasette-internal-bookmarks", "bookmarks.css"),
        )


_menu_urls = weakref.WeakKeyDictionary()


def menu_urls(datasette):
    urls = _menu_urls.get(datasette)
    if urls is None:
        urls = _menu_urls[datasette] = MenuUrls(datasette)
    return urls


def action_items(datasette, actor, request, title):
    """ "Bookmark this page" and "Copy short link" for Datasette's action menus."""

    async def inner():
        if actor_id(actor) is None or request is None:
            return []
        page = current_path(request)
        # Drawn on every page: both answers as one from core's recent_answers (one second),
        # not a permission query per page; the create routes check afresh.
        allowed = await recent_answers.allowed_many(datasette, MENU_ACTIONS, actor)
        urls = menu_urls(datasette)
        items = []
        if allowed[BOOKMARKS_CREATE]:
            items.append(
                {
                    # quote_plus as urlencode does, without its per-call type checks.
                    "href": f"{urls.new_bookmark}url={quote_plus(page)}"
                    f"&title={quote_plus(str(title))}",
                    "label": "Bookmark this page",
                    "description": "Save this view, with its filters, to your bookmarks",
                }
            )
        if allowed[SHORT_LINKS_CREATE]:
            items.append(
                {
                    "type": "button",
                    "label": "Copy short link",
                    "description": "Copy a short /-/l/ link to this view",
                    "attrs": {
                        "data-short-link-target": page,
                        "data-short-link-title": title,
                        "data-short-link-api": urls.links_api,
                    },
                }
            )
        return items

    return inner


def menu_links(datasette, actor):
    if actor_id(actor) is None:
        return []
    return list(menu_urls(datasette).menu_links)


# Datasette's pages whose action menus hold "Copy short link" (plugin pages load core's script
# through core's base template already).
PAGES_WITH_MENUS = {"index.html", "database.html", "table.html", "row.html", "query.html"}


def on_pages_with_menus(template, request, urls):
    if template not in PAGES_WITH_MENUS or request is None or actor_id(request.actor) is None:
        return []
    return list(urls)


def menu_scripts(datasette, template, request):
    """Core's script (its copy button) and the one behind "Copy short link"."""
    return on_pages_with_menus(template, request, menu_urls(datasette).scripts)


def menu_styles(datasette, template, request):
    return on_pages_with_menus(template, request, menu_urls(datasette).styles)
