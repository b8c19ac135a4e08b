"""Who may see and do what: Datasette's view permissions combined with the comment actions.

A comment is visible only to an actor who may view its target (``view-database`` and, below the
database level, ``view-table``) AND holds ``comments-view`` there. Single targets are checked
with ``verdicts`` (afresh: every write) or ``recent_verdicts`` (core's ``recent_answers``, kept
for one second: reads and what is drawn on every page); reads that span targets use
``visible_scope``, which store.py filters on in SQL.
"""

from datasette.permissions import Action, PermissionSQL
from datasette.resources import DatabaseResource, TableResource
from datasette_internal_db import recent_answers

from . import store

VIEW = "comments-view"
ADD = "comments-add"
MODERATE = "comments-moderate"

COMMENT_ACTIONS = (VIEW, ADD, MODERATE)


class CommentsTarget(TableResource):
    """A table (or, with no table, a database) whose comments an action is about.

    The same resource as Datasette's TableResource — same rules, same configuration — under its
    own class: Datasette resolves every action whose resource class *is* TableResource on every
    table page (for the table actions menu), and the comment actions are not needed there.
    """


ACTIONS = [
    Action(
        name=VIEW,
        abbr="cmv",
        description="Read comments on a database or table (needs view-table / view-database too)",
        resource_class=CommentsTarget,
    ),
    Action(
        name=ADD,
        abbr="cma",
        description="Start threads, reply, react, and edit or delete your own comments",
        resource_class=CommentsTarget,
    ),
    Action(
        name=MODERATE,
        abbr="cmm",
        description="Delete anyone's comment and resolve or reopen any thread",
        resource_class=CommentsTarget,
    ),
]


# Constant SQL without parameters: PermissionSQL.allow() names its parameter anew on every call,
# which makes Datasette compile a fresh regular expression for every permission check.
SIGNED_IN_MAY_COMMENT = PermissionSQL(
    sql="select null as parent, null as child, 1 as allow,"
    " 'datasette-internal-comments: signed-in actor' as reason"
)


def default_permission_sql(actor, action):
    """Signed-in actors may read and add comments unless configuration says otherwise."""
    if action in (VIEW, ADD) and isinstance(actor, dict) and actor.get("id") is not None:
        return SIGNED_IN_MAY_COMMENT
    return None


def actor_id(actor):
    return None if not isinstance(actor, dict) else actor.get("id")


def resource_for(database, table=""):
    return TableResource(database, table) if table else DatabaseResource(database)


async def verdicts(datasette, actor, database, table="", actions=COMMENT_ACTIONS):
    """{action: bool} for comment ``actions`` on a target, each including the view checks.

    One permission query: ``view-database`` rules sit at the database level, so they resolve
    the same against the table resource (Datasette caches the verdicts for the request).
    """
    actions = list(dict.fromkeys([VIEW, *actions]))
    denied = dict.fromkeys(actions, False)
    if database not in datasette.databases:
        return denied
    views = ["view-database", "view-table"] if table else ["view-database"]
    found = await datasette.allowed_many(
        actions=[*views, *actions], resource=resource_for(database, table), actor=actor
    )
    if not all(found[view] for view in views) or not found[VIEW]:
        return denied
    return {action: found[action] for action in actions}


async def recent_verdicts(datasette, actor, database, table="", actions=COMMENT_ACTIONS):
    """``verdicts`` as core's ``recent_answers`` gave them within the last second.

    For reads and for what is drawn on every page; a revoked permission shows within a second.
    Writes ask ``verdicts`` afresh. One kept answer per actor, target and set of actions (one
    permission query a second at most, asked again in the background while it is in use).
    """
    if database not in datasette.databases:
        return dict.fromkeys(actions, False)
    views = ["view-database", "view-table"] if table else ["view-database"]
    found = await recent_answers.allowed_many(
        datasette, dict.fromkeys([*views, VIEW, *actions]), actor, resource_for(database, table)
    )
    if not all(found[view] for view in views) or not found[VIEW]:
        return dict.fromkeys(actions, False)
    return {action: found[action] for action in actions}


async def can(datasette, actor, action, database, table=""):
    """May ``actor`` perform ``action`` on comments of this target? Always includes viewing it."""
    return (await verdicts(datasette, actor, database, table, [action]))[action]


async def visible_scope(datasette, actor):
    """``[[database, table], ...]`` whose comments ``actor`` may read.

    ``table`` is ``""`` for the threads on the database itself.
    """
    databases = {
        database for database, _ in await store.allowed_pairs(datasette, "view-database", actor)
    }
    if not databases:
        return []
    tables = await store.allowed_pairs(datasette, "view-table", actor)
    commentable = await store.allowed_pairs(datasette, VIEW, actor)
    scope = sorted(
        [database, table] for database, table in tables & commentable if database in databases
    )
    for database in sorted(databases):
        if await can(datasette, actor, VIEW, database):
            scope.append([database, ""])
    return scope
