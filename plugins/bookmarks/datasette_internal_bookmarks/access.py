"""Who may do what: the plugin's actions, and "may this actor view that target"."""

import json
import time

from datasette.permissions import Action, PermissionSQL
from datasette.resources import DatabaseResource, QueryResource, TableResource

BOOKMARKS_CREATE = "bookmarks-create"
SHORT_LINKS_CREATE = "short-links-create"
SHORT_LINKS_ADMIN = "short-links-admin"
SIGNED_IN_DEFAULTS = (BOOKMARKS_CREATE, SHORT_LINKS_CREATE)

# How long a redirect or a bookmark list may reuse a "may view the destination" answer. The
# destination page runs its own check on every request, so a stale answer can at most reveal a
# path or a title, never the page.
PERMISSION_CACHE_SECONDS = 5.0
PERMISSION_CACHE_SIZE = 10_000

ACTIONS = [
    Action(name=BOOKMARKS_CREATE, description="Create, edit and delete your own bookmarks"),
    Action(name=SHORT_LINKS_CREATE, description="Create and manage your own short links"),
    Action(
        name=SHORT_LINKS_ADMIN,
        description="List, edit, disable and delete anyone's short links",
    ),
]


def default_permissions_sql(datasette, actor, action):
    """Signed-in actors may bookmark and create short links unless config says otherwise.

    The rule sits at the root level, like a config ``permissions:`` block, so a config block
    that lists other actors denies these (deny beats allow at one level). ``--default-deny``
    turns the default off.
    """
    if action not in SIGNED_IN_DEFAULTS or datasette.default_deny:
        return None
    if not isinstance(actor, dict) or not actor.get("id"):
        return None
    return PermissionSQL.allow(reason="datasette-internal-bookmarks: signed-in actor")


def view_check(target):
    """The (action, resource) Datasette itself checks before showing ``target``."""
    if target.kind == "database":
        return "view-database", DatabaseResource(target.database)
    if target.kind == "sql":
        return "execute-sql", DatabaseResource(target.database)
    if target.kind in ("table", "row"):
        return "view-table", TableResource(target.database, target.name)
    if target.kind == "query":
        return "view-query", QueryResource(target.database, target.name)
    return "view-instance", None


async def may_view(datasette, actor, target):
    action, resource = view_check(target)
    return await datasette.allowed(action=action, resource=resource, actor=actor)


class ViewChecks:
    """``may_view`` answers kept for PERMISSION_CACHE_SECONDS, for the redirect's hot path and
    for filtering lists of shared bookmarks: one real check per actor, action and resource
    (all rows of a table share one, as they share Datasette's own check)."""

    def __init__(self):
        self.answers = {}

    async def may_view(self, datasette, actor, target):
        action, resource = view_check(target)
        return await self.allowed(datasette, actor, action, resource)

    async def allowed(self, datasette, actor, action, resource):
        key = (
            json.dumps(actor, sort_keys=True, default=str) if actor else "",
            action,
            resource and (resource.parent, resource.child),
        )
        now = time.monotonic()
        cached = self.answers.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        allowed = await datasette.allowed(action=action, resource=resource, actor=actor)
        if len(self.answers) >= PERMISSION_CACHE_SIZE:
            self.answers.clear()
        self.answers[key] = (now + PERMISSION_CACHE_SECONDS, allowed)
        return allowed
