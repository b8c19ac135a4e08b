"""Items for Datasette's action menus and the application menu."""

from urllib.parse import urlencode

from .access import BOOKMARKS_CREATE, SHORT_LINKS_CREATE


def current_path(request):
    return request.path + ("?" + request.query_string if request.query_string else "")


def page_actions(datasette, actor, request, title):
    async def inner():
        if not isinstance(actor, dict) or not actor.get("id") or request is None:
            return []
        page = current_path(request)
        allowed = await datasette.allowed_many(
            actions=[BOOKMARKS_CREATE, SHORT_LINKS_CREATE], actor=actor
        )
        items = []
        if allowed[BOOKMARKS_CREATE]:
            items.append(
                {
                    "href": datasette.urls.path("/-/bookmarks/new?")
                    + urlencode({"url": page, "title": title}),
                    "label": "Bookmark this page",
                    "description": "Save this view, with its filters, to your bookmarks",
                }
            )
        if allowed[SHORT_LINKS_CREATE]:
            items.append(
                {
                    "href": datasette.urls.path("/-/links?") + urlencode({"target": page}),
                    "label": "Short link to this page",
                    "description": "A short /-/l/ link to share this view",
                }
            )
        return items

    return inner


def menu_links(datasette, actor):
    if not isinstance(actor, dict) or not actor.get("id"):
        return []
    return [
        {"href": datasette.urls.path("/-/bookmarks"), "label": "Bookmarks"},
        {"href": datasette.urls.path("/-/links"), "label": "Short links"},
    ]
