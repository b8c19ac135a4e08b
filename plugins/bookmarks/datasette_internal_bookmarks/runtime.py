"""In-process state of one Datasette: the short-link cache, visit buffer and permission answers.

One server owns an internal file (core holds a lock), so a cache in this process sees every
change: each write to a link goes through this plugin, which drops the cached entry.
"""

import weakref
from collections import OrderedDict

from . import store
from .access import ViewChecks
from .targets import Target
from .visits import VisitBuffer

LINK_CACHE_SIZE = 10_000


class CachedLink:
    __slots__ = ("link", "target", "visits")

    def __init__(self, link, visits):
        self.link = link
        self.target = Target(
            link["resource_kind"], link["resource_database"], link["resource_name"]
        )
        self.visits = visits


class Runtime:
    def __init__(self):
        self.links = OrderedDict()
        self.visits = VisitBuffer()
        self.view_checks = ViewChecks()

    async def link(self, datasette, code):
        cached = self.links.get(code)
        if cached is not None:
            self.links.move_to_end(code)
            return cached
        link = await store.get_link(datasette, code)
        if link is None:
            return None
        cached = CachedLink(link, link["visits"] + self.visits.pending(code))
        self.links[code] = cached
        if len(self.links) > LINK_CACHE_SIZE:
            self.links.popitem(last=False)
        return cached

    def forget_link(self, code):
        self.links.pop(code, None)


_runtimes = weakref.WeakKeyDictionary()


def runtime(datasette):
    if datasette not in _runtimes:
        _runtimes[datasette] = Runtime()
    return _runtimes[datasette]
