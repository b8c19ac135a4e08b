"""Who may do what: the plugin's actions, who holds them by default, and "may this actor view
that target"."""

from datasette.permissions import Action, PermissionSQL
from datasette.resources import DatabaseResource, QueryResource, TableResource
from datasette_internal_db import recent_answers

BOOKMARKS_CREATE = "bookmarks-create"
SHORT_LINKS_CREATE = "short-links-create"
SHORT_LINKS_ADMIN = "short-links-admin"
SIGNED_IN_DEFAULTS = (BOOKMARKS_CREATE, SHORT_LINKS_CREATE)

ACTIONS = [
    Action(name=BOOKMARKS_CREATE, description="Create, edit and delete your own bookmarks"),
    Action(name=SHORT_LINKS_CREATE, description="Create and manage your own short links"),
    Action(
        name=SHORT_LINKS_ADMIN,
        description="List, edit, disable and delete anyone's short links",
    ),
]

# Constant SQL without parameters: PermissionSQL.allow() names its parameter anew on every call,
# which makes Datasette compile a fresh regular expression for every permission check.
SIGNED_IN_ALLOWED = PermissionSQL(
    sql="select null as parent, null as child, 1 as allow,"
    " 'datasette-internal-bookmarks: signed-in actor' as reason"
)


def actor_id(actor):
    """The actor's id as text, or None: an actor without an id is not signed in."""
    value = actor.get("id") if isinstance(actor, dict) else None
    return None if value in (None, "") else str(value)


def default_permission_sql(datasette, actor, action):
    """Signed-in actors may bookmark and create short links unless config says otherwise.

    The rule sits at the root level, like a config ``permissions:`` block, so a config block
    that lists other actors denies these (deny beats allow at one level). ``--default-deny``
    turns the default off.
    """
    if action not in SIGNED_IN_DEFAULTS or datasette.default_deny:
        return None
    if actor_id(actor) is None:
        return None
    return SIGNED_IN_ALLOWED


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
    """Asked afresh: for one bookmark read, and for the link-rot scan."""
    action, resource = view_check(target)
    return await datasette.allowed(action=action, resource=resource, actor=actor)


async def may_view_recently(datasette, actor, target):
    """From core's ``recent_answers`` (one second): for filtering a list of shared bookmarks and
    for the redirect, where the destination page runs its own check on every request anyway, so
    a stale answer can at most reveal a title, never the page."""
    action, resource = view_check(target)
    return await recent_answers.allowed(datasette, action, actor, resource)
