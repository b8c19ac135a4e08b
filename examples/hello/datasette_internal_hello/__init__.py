"""datasette-internal-hello: signed-in people leave short greetings. Hook wiring only."""

from datasette import hookimpl

from . import access
from .events import EVENTS
from .migrations import migrations
from .routes import routes
from .settings import plugin


@hookimpl
def register_internal_migrations(datasette):
    return migrations


@hookimpl
def register_actions(datasette):
    return access.ACTIONS


@hookimpl
def permission_resources_sql(datasette, actor, action):
    return access.default_permission_sql(actor, action)


@hookimpl
def register_events(datasette):
    return EVENTS


@hookimpl
def register_routes(datasette):
    return routes


@hookimpl
def startup(datasette):
    plugin.require_core(datasette)
