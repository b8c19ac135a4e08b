from pluggy import HookspecMarker

hookspec = HookspecMarker("datasette")


@hookspec
def register_internal_migrations(datasette):
    """Return a sqlite-utils ``Migrations`` set (or a list of them) for the internal database.

    The set's name doubles as the prefix of the tables it owns:
    ``Migrations("datasette-internal-comments")`` owns ``datasette_internal_comments_*``.
    Core applies every registered set at startup, before any ``startup`` hook runs. A step
    must build the same schema and rows every time (nothing random or time-dependent): a
    process copies its first fresh internal DB into later fresh ones instead of re-running it.
    """
