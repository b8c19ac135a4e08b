"""Who may see and do what: Datasette's view permissions combined with the comment actions.

A comment is visible only to an actor who may view its target (``view-database`` and, below the
database level, ``view-table``) AND holds ``comments-view`` there. Single targets are checked
with ``can``; reads that span targets use ``visible_scope``, which store.py filters on in SQL.
"""

import json
import weakref

from datasette.permissions import Action, PermissionSQL
from datasette.resources import DatabaseResource, TableResource
from datasette_internal_db import clock

from . import store

VIEW = "comments-view"
ADD = "comments-add"
MODERATE = "comments-moderate"

COMMENT_ACTIONS = (VIEW, ADD, MODERATE)

# Reading a thread asks Datasette's permission system for five verdicts, which costs more than
# the read itself. Read paths reuse an actor's verdicts for a target for this long: a revoked
# permission stops showing comments within a second. Writes always ask afresh.
RECENT_VERDICT_SECONDS = 1.0
RECENT_VERDICT_ENTRIES = 10_000

ACTIONS = [
    Action(
        name=VIEW,
        abbr="cmv",
        description="Read comments on a database or table (needs view-table / view-database too)",
        resource_class=TableResource,
    ),
    Action(
        name=ADD,
        abbr="cma",
        description="Start threads, reply, react, and edit or delete your own comments",
        resource_class=TableResource,
    ),
    Action(
        name=MODERATE,
        abbr="cmm",
        description="Delete anyone's comment and resolve or reopen any thread",
        resource_class=TableResource,
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
    resource = TableResource(database, table) if table else DatabaseResource(database)
    found = await datasette.allowed_many(actions=[*views, *actions], resource=resource, actor=actor)
    if not all(found[view] for view in views) or not found[VIEW]:
        return denied
    return {action: found[action] for action in actions}


_recent = weakref.WeakKeyDictionary()  # datasette → {(actor, database, table): (until, verdicts)}


async def recent_verdicts(datasette, actor, database, table=""):
    """``verdicts`` for every comment action, as answered within RECENT_VERDICT_SECONDS."""
    memo = _recent.setdefault(datasette, {})
    key = (json.dumps(actor, sort_keys=True, default=str), database, table)
    now = clock.now()
    found = memo.get(key)
    if found is not None and found[0] > now:
        return dict(found[1])
    answered = await verdicts(datasette, actor, database, table)
    if len(memo) >= RECENT_VERDICT_ENTRIES:
        memo.clear()
    memo[key] = (now + RECENT_VERDICT_SECONDS, answered)
    return dict(answered)


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
