"""``Plugin``: one handle per plugin, bound to its name, for everything core offers it.

    plugin = Plugin("datasette-internal-hello", settings=[Setting("greeting", str, "Hello", "…")])

    @plugin.migrations()                      # sqlite-utils Migrations named after the plugin
    def m001_greetings(db):
        db[plugin.table("greetings")].create({"id": int, "text": str}, pk="id")

    await plugin.settings.get(datasette, "greeting")
    await plugin.cache.get(datasette, key) / .set(datasette, key, value, ttl=60)
    await plugin.audit.record(datasette, "greeting-added", actor=request.actor)
    job_id = await plugin.jobs.start(datasette, "scan", work, actor_id=...)
    await plugin.secrets.store(datasette, "token", value) / .read / .delete
    plugin.require_core(datasette)            # first line of the plugin's startup hook

Every method takes ``datasette`` first. Declare the handle once, at module level.
"""

from datasette.utils import StartupError
from sqlite_utils import Migrations

from . import audit, jobs, secrets
from .cache import Cache
from .database import is_prepared
from .migrations import table_prefix
from .settings import RuntimeSettings


class Audit:
    def __init__(self, plugin):
        self.plugin = plugin

    async def record(self, datasette, action, *, actor=None, resource=None, details=None):
        return await audit.record(
            datasette, self.plugin, action, actor=actor, resource=resource, details=details
        )

    async def entries(self, datasette, **filters):
        return await audit.entries(datasette, plugin=self.plugin, **filters)


class Jobs:
    def __init__(self, plugin):
        self.plugin = plugin

    async def start(self, datasette, kind, work, *, actor_id=None, total=None):
        return await jobs.start(datasette, self.plugin, kind, work, actor_id=actor_id, total=total)

    async def get(self, datasette, job_id):
        job = await jobs.get(datasette, job_id)
        return job if job is not None and job["plugin"] == self.plugin else None

    async def request_cancel(self, datasette, job_id):
        if await self.get(datasette, job_id) is not None:
            await jobs.request_cancel(datasette, job_id)


class Secrets:
    def __init__(self, plugin):
        self.plugin = plugin

    async def store(self, datasette, name, value):
        return await secrets.store(datasette, self.plugin, name, value)

    async def read(self, datasette, name):
        return await secrets.read(datasette, self.plugin, name)

    async def delete(self, datasette, name):
        return await secrets.delete(datasette, self.plugin, name)


class Plugin:
    def __init__(self, name, settings=()):
        self.name = name
        self.migrations = Migrations(name)
        self.settings = RuntimeSettings(name, list(settings))
        self.cache = Cache(name)
        self.audit = Audit(name)
        self.jobs = Jobs(name)
        self.secrets = Secrets(name)

    def require_core(self, datasette):
        """For the plugin's ``startup`` hook: stop Datasette, naming the cause, when core has
        not made its internal DB ready. Core installed but not loaded (``DATASETTE_LOAD_PLUGINS``
        naming the plugin without it) would otherwise fail later on tables never made."""
        if not is_prepared(datasette):
            raise StartupError(
                f"{self.name} keeps its state in the internal database through "
                "datasette-internal-db, which is not loaded: add datasette-internal-db to "
                "DATASETTE_LOAD_PLUGINS, or leave that variable unset"
            )

    def table(self, name):
        """The internal-DB table name this plugin owns: ``datasette_internal_hello_<name>``."""
        return table_prefix(self.name) + name
