"""The plugin's one action, and who holds it when datasette.yaml says nothing."""

from datasette.permissions import Action, PermissionSQL

GREET = "hello-greet"

ACTIONS = [Action(name=GREET, description="See greetings and leave one")]

# Constant SQL without parameters: PermissionSQL.allow() names its parameter anew on every call,
# which makes Datasette compile a fresh regular expression for every permission check.
SIGNED_IN_MAY_GREET = PermissionSQL(
    sql="select null as parent, null as child, 1 as allow,"
    " 'datasette-internal-hello: signed-in actor' as reason"
)


def default_permission_sql(actor, action):
    """Signed-in actors may greet; a ``permissions: {hello-greet: ...}`` block overrides it."""
    if action == GREET and isinstance(actor, dict) and actor.get("id") is not None:
        return SIGNED_IN_MAY_GREET
    return None
