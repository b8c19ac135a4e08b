"""Rendered HTML of the bookmark list's items, remembered by everything they show.

Rendering the 50 bookmarks of a list page through Jinja was about half the page's time.
"""

import weakref
from collections import OrderedDict

from markupsafe import Markup

FRAGMENT_CACHE_SIZE = 5_000


class Fragments:
    """The key is the template, the shared context and the item's full ``repr``, so an item
    that changed in any shown way is a new key: nothing can be stale, and there is nothing to
    invalidate. Old keys fall out of the LRU (FRAGMENT_CACHE_SIZE items, about 1 KB each).
    Rendering is a synchronous overlay of Datasette's Jinja environment (same loader, so
    ``--template-dir`` overrides apply; same filters; autoescaped), one item at a time.
    """

    def __init__(self, datasette):
        # cache_size: a fresh template cache, never the async environment's compiled templates.
        self.environment = datasette.get_jinja_environment().overlay(
            enable_async=False, cache_size=50
        )
        self.rendered = OrderedDict()

    def render(self, template, name, items, context):
        shared = repr(sorted(context.items()))
        parts = []
        for item in items:
            key = (template, shared, repr(item))
            html = self.rendered.get(key)
            if html is None:
                html = self.environment.get_template(template).render({name: item, **context})
                self.rendered[key] = html
                if len(self.rendered) > FRAGMENT_CACHE_SIZE:
                    self.rendered.popitem(last=False)
            else:
                self.rendered.move_to_end(key)
            parts.append(html)
        # Each part comes from an autoescaping template.
        return Markup("".join(parts))  # noqa: S704


_fragments = weakref.WeakKeyDictionary()


def render_items(datasette, template, name, items, **context):
    """``template`` rendered for each of ``items`` (as ``name``), joined; see Fragments."""
    if datasette not in _fragments:
        _fragments[datasette] = Fragments(datasette)
    return _fragments[datasette].render(template, name, items, context)
