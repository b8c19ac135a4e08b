"""datasette-internal-webhooks: signed outgoing webhooks and verified incoming webhooks.
Hook wiring only."""

from datasette import hookimpl

from . import access, state
from .activity import count_requests
from .events import EVENTS
from .migrations import migrations
from .routes import routes
from .settings import plugin


@hookimpl
def register_internal_migrations(datasette):
    return migrations


@hookimpl
def register_events(datasette):
    return EVENTS


@hookimpl
def register_actions(datasette):
    return access.ACTIONS


@hookimpl
def asgi_wrapper(datasette):
    return lambda app: count_requests(datasette, app)


@hookimpl
def register_routes(datasette):
    return routes


@hookimpl
def menu_links(datasette, actor):
    return access.menu_links(datasette, actor)


@hookimpl
def startup(datasette):
    plugin.require_core(datasette)
    return state.start(datasette)


@hookimpl
def shutdown(datasette):
    return state.stop(datasette)


@hookimpl
def track_event(datasette, event):
    return state.handle_event(datasette, event)
