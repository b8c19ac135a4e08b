"""The hot path: ``/-/l/<code>`` answers 302 to the link's local path.

Benchmarked against a fixed-redirect route (docs/benchmarks.md), so it keeps its own fast path:
links are read on the event loop from a read-only connection and kept in memory, permission
answers come from core's ``recent_answers``, and a visit is counted in memory (visits.py), never
written by the request.

One server owns an internal file (core holds a lock), so the cache in this process sees every
change: each write to a link goes through this plugin, which drops the cached entry. A read node
is the exception: its links are the primary's, changed by another process, so there a cached link
is read again once it is READ_NODE_SECONDS old (README, "Why the redirect is cheap").
"""

import datetime
import logging
import sqlite3
import weakref
from collections import OrderedDict

from datasette.utils.asgi import Response
from datasette_internal_db import clock, is_read_node, loop_connection, recent_answers, route
from datasette_internal_db.paths import UnsafePath, location_for

from . import store_links
from .access import view_check
from .targets import stored_target
from .visits import VisitBuffer

LINK_CACHE_SIZE = 10_000
READ_NODE_SECONDS = 1.0
NOT_CACHED = {"Cache-Control": "no-store"}

log = logging.getLogger("datasette_internal_bookmarks")


class CachedLink:
    """A link as the redirect needs it, worked out once each time it is read from the database:
    its permission check, and its ``Location`` re-checked by ``location_for`` (None when the
    stored target is unsafe). The cache only ever holds what a read just produced, and every
    write through this plugin drops the entry, so each stored target is checked before use.

    Only these fields are kept, not the row: fewer objects per cached link for the garbage
    collector to walk (10,000 of them)."""

    __slots__ = (
        "location",
        "check",
        "disabled",
        "expires_at",
        "max_visits",
        "visits",
        "fresh_until",
    )

    def __init__(self, link, visits, base_url, check, fresh_until):
        try:
            self.location = location_for(link["target"], base_url, name="target")
        except UnsafePath:
            self.location = None
        self.check = check
        self.disabled = link["disabled"]
        self.expires_at = expiry_timestamp(link["expires_at"])
        self.max_visits = link["max_visits"]
        self.visits = visits
        self.fresh_until = fresh_until


def expiry_timestamp(expires_at):
    """The stored expiry (``clock.iso`` text) as unix time, so a redirect compares numbers instead
    of formatting the current time. Text the plugin did not write (edited behind its back) and
    cannot read counts as expired: the link stops rather than living forever."""
    if expires_at is None:
        return None
    try:
        moment = datetime.datetime.fromisoformat(expires_at)
    except (TypeError, ValueError):
        return float("-inf")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()


class LinkCache:
    """Per Datasette: recently read links and the visit buffer."""

    def __init__(self, fresh_seconds=None):
        self.links = OrderedDict()
        # (action, resource) per stored (kind, database, name): links to one table share one.
        self.checks = {}
        self.visits = VisitBuffer()
        # None: cached links stay until this process changes them; else seconds they stay.
        self.fresh_seconds = fresh_seconds

    def cached(self, code):
        """The link if it is cached and still fresh, else None: no coroutine for the common
        case (``follow`` awaits ``link`` only for a miss)."""
        cached = self.links.get(code)
        if cached is not None and (cached.fresh_until is None or clock.now() < cached.fresh_until):
            self.links.move_to_end(code)
            return cached
        return None

    async def link(self, datasette, code):
        cached = self.cached(code)
        if cached is not None:
            return cached
        link = await self.read_link(datasette, code)
        if link is None:
            self.links.pop(code, None)
            return None
        cached = CachedLink(
            link,
            link["visits"] + self.visits.pending(code),
            datasette.setting("base_url"),
            self.view_check(link),
            None if self.fresh_seconds is None else clock.now() + self.fresh_seconds,
        )
        self.links[code] = cached
        if len(self.links) > LINK_CACHE_SIZE:
            self.links.popitem(last=False)
        return cached

    def view_check(self, link):
        key = (link["resource_kind"], link["resource_database"], link["resource_name"])
        check = self.checks.get(key)
        if check is None:
            if len(self.checks) >= LINK_CACHE_SIZE:
                self.checks.clear()
            check = self.checks[key] = view_check(stored_target(link))
        return check

    async def read_link(self, datasette, code):
        """The stored link, read when its stored count and the in-memory count add up exactly:
        never while a flush is writing this code's count, never across the start of a flush."""
        await self.visits.settled(code)
        reader = loop_connection(datasette)
        if reader is not None:
            try:
                # No await from here to the caller's pending(): nothing can flush meanwhile.
                return store_links.get_link_now(reader, code)
            except sqlite3.OperationalError:
                pass  # busy for a moment: take Datasette's read thread instead
        return await self.visits.read_counted(lambda: store_links.get_link(datasette, code), code)

    def forget_link(self, code):
        self.links.pop(code, None)


_caches = weakref.WeakKeyDictionary()


def link_cache(datasette):
    cache = _caches.get(datasette)
    if cache is None:
        # Core marks a read node before any plugin's startup, which is the first call here.
        cache = _caches[datasette] = LinkCache(
            READ_NODE_SECONDS if is_read_node(datasette) else None
        )
    return cache


def gone_reason(cached):
    if cached.disabled:
        return "This short link has been disabled."
    if cached.expires_at is not None and cached.expires_at <= clock.now():
        return "This short link has expired."
    if cached.max_visits is not None and cached.visits >= cached.max_visits:
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
    cached = cache.cached(code) or await cache.link(datasette, code)
    if cached is None:
        return await message_page(
            datasette, request, 404, "Link not found", "There is no short link with this code."
        )
    reason = gone_reason(cached)
    if reason:
        return await message_page(datasette, request, 410, "Link gone", reason)
    action, resource = cached.check
    if not await recent_answers.allowed(datasette, action, request.actor, resource):
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
