"""The hot path: ``/-/l/<code>`` answers 302 to the link's local path.

Benchmarked against a fixed-redirect route (docs/benchmarks.md), so it keeps its own fast path:
links are read on the event loop from a read-only connection and kept in memory, permission
answers come from core's ``recent_answers``, and a visit is counted in memory (visits.py), never
written by the request.

One server owns an internal file (core holds a lock), so the cache in this process sees every
change: each write to a link goes through this plugin, which drops the cached entry.
"""

import logging
import sqlite3
import weakref
from collections import OrderedDict

from datasette.utils.asgi import Response
from datasette_internal_db import clock, recent_answers, route
from datasette_internal_db.paths import UnsafePath, location_for

from . import store_links
from .access import view_check
from .targets import stored_target
from .visits import VisitBuffer

LINK_CACHE_SIZE = 10_000
NOT_CACHED = {"Cache-Control": "no-store"}

log = logging.getLogger("datasette_internal_bookmarks")


class CachedLink:
    """A link as the redirect needs it, worked out once each time it is read from the database:
    its permission check, and its ``Location`` re-checked by ``location_for`` (None when the
    stored target is unsafe). The cache only ever holds what a read just produced, and every
    write through this plugin drops the entry, so each stored target is checked before use."""

    __slots__ = ("link", "action", "resource", "location", "visits")

    def __init__(self, link, visits, base_url):
        self.link = link
        self.action, self.resource = view_check(stored_target(link))
        try:
            self.location = location_for(link["target"], base_url, name="target")
        except UnsafePath:
            self.location = None
        self.visits = visits


class LinkCache:
    """Per Datasette: recently read links, the visit buffer, and the event-loop reader."""

    def __init__(self):
        self.links = OrderedDict()
        self.visits = VisitBuffer()
        self.reader = None
        self.reader_opened = False

    async def link(self, datasette, code):
        cached = self.links.get(code)
        if cached is not None:
            self.links.move_to_end(code)
            return cached
        link = await self.read_link(datasette, code)
        if link is None:
            return None
        cached = CachedLink(
            link, link["visits"] + self.visits.pending(code), datasette.setting("base_url")
        )
        self.links[code] = cached
        if len(self.links) > LINK_CACHE_SIZE:
            self.links.popitem(last=False)
        return cached

    async def read_link(self, datasette, code):
        """The stored link, read when its stored count and the in-memory count add up exactly:
        never while a flush is writing this code's count, never across the start of a flush."""
        while True:
            await self.visits.settled(code)
            reader = self.link_reader(datasette)
            if reader is not None:
                try:
                    # No await from here to the caller's pending(): nothing can flush meanwhile.
                    return store_links.get_link_now(reader, code)
                except sqlite3.OperationalError:
                    pass  # busy for a moment: take Datasette's read thread instead
            generation = self.visits.generation
            link = await store_links.get_link(datasette, code)
            if generation == self.visits.generation:
                return link

    def link_reader(self, datasette):
        if not self.reader_opened:
            self.reader = store_links.open_link_reader(datasette)
            self.reader_opened = True
        return self.reader

    def forget_link(self, code):
        self.links.pop(code, None)

    def close(self):
        if self.reader is not None:
            self.reader.close()
        self.reader, self.reader_opened = None, False


_caches = weakref.WeakKeyDictionary()


def link_cache(datasette):
    if datasette not in _caches:
        _caches[datasette] = LinkCache()
    return _caches[datasette]


def gone_reason(link, visits):
    if link["disabled"]:
        return "This short link has been disabled."
    if link["expires_at"] and link["expires_at"] <= clock.iso():
        return "This short link has expired."
    if link["max_visits"] is not None and visits >= link["max_visits"]:
        return "This short link has been used the maximum number of times."
    return None


async def message_page(datasette, request, status, title, message):
    html = await datasette.render_template(
        "datasette_internal_bookmarks_message.html",
        {"title": title, "message": message, "breadcrumbs": [("Short link", None)]},
        request=request,
    )
    return Response.html(html, status=status, headers=NOT_CACHED)


@route(methods=("GET", "HEAD"))
async def follow(datasette, request):
    """302 to the link's local path. No write here: the visit is counted in memory."""
    code = request.url_vars["code"]
    cache = link_cache(datasette)
    cached = await cache.link(datasette, code)
    if cached is None:
        return await message_page(
            datasette, request, 404, "Link not found", "There is no short link with this code."
        )
    reason = gone_reason(cached.link, cached.visits)
    if reason:
        return await message_page(datasette, request, 410, "Link gone", reason)
    if not await recent_answers.allowed(datasette, cached.action, request.actor, cached.resource):
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
    cache.visits.record(code)
    return Response.redirect(
        cached.location, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    )
