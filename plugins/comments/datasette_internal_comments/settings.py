"""The plugin's handle on core (name, tables, cache, audit log) and its one runtime setting,
edited by root at /-/internal/settings or set in datasette.yaml."""

from datasette_internal_db import Plugin, Setting

plugin = Plugin(
    "datasette-internal-comments",
    settings=[
        Setting(
            "enabled",
            list,
            ["*"],
            'Where comments may be added: "*" for everywhere, "database" for every table of a '
            'database, "database/table" for one table. Existing comments stay readable.',
        ),
    ],
)


def is_enabled(patterns, database, table=""):
    for pattern in patterns:
        if pattern in ("*", database):
            return True
        if table and pattern == f"{database}/{table}":
            return True
    return False


async def comments_enabled(datasette, database, table=""):
    return is_enabled(await plugin.settings.get(datasette, "enabled"), database, table)
