"""Runtime settings (edited by root at /-/internal/settings, or set in datasette.yaml)."""

from datasette_internal_db import RuntimeSettings, Setting

from .migrations import PLUGIN

settings = RuntimeSettings(
    PLUGIN,
    [
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
    return is_enabled(await settings.get(datasette, "enabled"), database, table)
