"""The plugin's two actions and the checks built on them. Neither is granted by default: root,
or whoever a ``permissions:`` block in datasette.yaml names, holds them."""

from datasette import Forbidden
from datasette.permissions import Action
from datasette_internal_db import recent_answers

MANAGE = "webhooks-manage"
VIEW_LOG = "webhooks-view-log"

ACTIONS = [
    Action(
        name=MANAGE, description="Manage webhook endpoints and their secrets; redeliver messages"
    ),
    Action(name=VIEW_LOG, description="See webhook endpoints and their delivery logs"),
]


async def can_manage(datasette, actor):
    return await datasette.allowed(action=MANAGE, actor=actor)


async def require_view(datasette, request):
    """Raise Forbidden unless the actor may read (``webhooks-manage`` includes reading:
    managing endpoints means seeing them); return whether they may also manage."""
    manage = await can_manage(datasette, request.actor)
    if not manage and not await datasette.allowed(action=VIEW_LOG, actor=request.actor):
        raise Forbidden(f"Permission denied: {VIEW_LOG} or {MANAGE} is required")
    return manage


async def require_manage(datasette, request):
    if not await can_manage(datasette, request.actor):
        raise Forbidden(f"Permission denied: {MANAGE} is required")


async def menu_links(datasette, actor):
    # Drawn on every page, also pages this plugin does not own: both answers as one from
    # core's short-lived memory (1 s per actor), so the menu adds no permission query of its
    # own. The webhooks pages check on every request.
    answers = await recent_answers.allowed_many(datasette, (VIEW_LOG, MANAGE), actor)
    if any(answers.values()):
        return [{"href": datasette.urls.path("/-/webhooks"), "label": "Webhooks"}]
    return []
