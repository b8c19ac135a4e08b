"""datasette-internal-webhooks: signed outgoing webhooks and verified incoming webhooks.

Hooks import the rest lazily: datasette_internal_db imports datasette.plugins, which loads
every entry point, this one included, while datasette_internal_db is still half-imported.
"""

from datasette import hookimpl
from datasette.permissions import Action

from .migrations import migrations
from .names import MANAGE, VIEW_LOG


@hookimpl
def register_internal_migrations(datasette):
    return migrations


@hookimpl
def register_events(datasette):
    from .events import WebhookReceivedEvent

    return [WebhookReceivedEvent]


@hookimpl
def register_actions(datasette):
    return [
        Action(
            name=MANAGE,
            description="Manage webhook endpoints and their secrets; redeliver messages",
        ),
        Action(name=VIEW_LOG, description="See webhook endpoints and their delivery logs"),
    ]


@hookimpl
def asgi_wrapper(datasette):
    from .activity import count_requests

    return lambda app: count_requests(datasette, app)


@hookimpl
def register_routes(datasette):
    from .routes import routes

    return routes


@hookimpl
def menu_links(datasette, actor, request):
    async def inner():
        for action in (VIEW_LOG, MANAGE):
            if await datasette.allowed(action=action, actor=actor):
                return [{"href": datasette.urls.path("/-/webhooks"), "label": "Webhooks"}]
        return []

    return inner()


@hookimpl
def startup(datasette):
    from . import lifecycle

    return lifecycle.start(datasette)


@hookimpl
def shutdown(datasette):
    from . import lifecycle

    return lifecycle.stop(datasette)


@hookimpl
def track_event(datasette, event):
    from . import lifecycle

    return lifecycle.handle_event(datasette, event)
