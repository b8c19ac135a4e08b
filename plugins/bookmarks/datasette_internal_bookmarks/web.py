"""Request helpers shared by the plugin's views."""

import weakref
from collections import OrderedDict
from urllib.parse import parse_qsl

from datasette_internal_db import InvalidInput
from datasette_internal_db.web import read_body, read_json_object
from markupsafe import Markup


def actor_id(request):
    """The signed-in actor's id as text, or None (an actor without an id is not signed in)."""
    actor = request.actor
    value = actor.get("id") if isinstance(actor, dict) else None
    return None if value in (None, "") else str(value)


async def read_input(request):
    """A JSON object body, or an HTML form's fields (last value of each name wins)."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        body = await read_body(request)
        try:
            return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            raise InvalidInput("Form body is not UTF-8") from None
    return await read_json_object(request)


async def render(datasette, request, template, context):
    return await datasette.render_template(template, context, request=request)


FRAGMENT_CACHE_SIZE = 5_000


class Fragments:
    """Rendered HTML of list items, remembered by everything they show.

    The key is the template, the shared context and the item's full ``repr``, so a bookmark
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
    """``template`` rendered for each of ``items`` (as ``name``), joined; see Fragments.

    Rendering the 50 bookmarks of a list page through Jinja was about half the page's time.
    """
    if datasette not in _fragments:
        _fragments[datasette] = Fragments(datasette)
    return _fragments[datasette].render(template, name, items, context)
