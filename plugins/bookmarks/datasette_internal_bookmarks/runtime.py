"""In-process state of one Datasette: the short-link cache, visit buffer and permission answers.

One server owns an internal file (core holds a lock), so a cache in this process sees every
change: each write to a link goes through this plugin, which drops the cached entry.
"""

import sqlite3
import weakref
from collections import OrderedDict

from datasette_internal_db.paths import UnsafePath, location_for

from . import store
from .access import ViewChecks, view_check
from .targets import Target
from .visits import VisitBuffer

LINK_CACHE_SIZE = 10_000


class CachedLink:
    """A link as the redirect needs it, worked out once each time it is read from the database:
    its permission check, and its ``Location`` re-checked by ``location_for`` (None when the
    stored target is unsafe). The cache only ever holds what a read just produced, and every
    write through this plugin drops the entry, so each stored target is checked before use."""

    __slots__ = ("link", "action", "resource", "location", "visits")

    def __init__(self, link, visits, base_url):
        self.link = link
        target = Target(link["resource_kind"], link["resource_database"], link["resource_name"])
        self.action, self.resource = view_check(target)
        try:
            self.location = location_for(link["target"], base_url, name="target")
        except UnsafePath:
            self.location = None
        self.visits = visits


class Runtime:
    def __init__(self):
        self.links = OrderedDict()
        self.visits = VisitBuffer()
        self.view_checks = ViewChecks()
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
                    return store.get_link_now(reader, code)
                except sqlite3.OperationalError:
                    pass  # busy for a moment: take Datasette's read thread instead
            generation = self.visits.generation
            link = await store.get_link(datasette, code)
            if generation == self.visits.generation:
                return link

    def link_reader(self, datasette):
        if not self.reader_opened:
            self.reader = store.open_link_reader(datasette)
            self.reader_opened = True
        return self.reader

    def forget_link(self, code):
        self.links.pop(code, None)

    def close(self):
        if self.reader is not None:
            self.reader.close()
        self.reader, self.reader_opened = None, False


_runtimes = weakref.WeakKeyDictionary()


def runtime(datasette):
    if datasette not in _runtimes:
        _runtimes[datasette] = Runtime()
    return _runtimes[datasette]
