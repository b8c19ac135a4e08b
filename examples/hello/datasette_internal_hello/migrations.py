"""The plugin's tables, built step by step with the sqlite-utils API. Core applies the steps in
order at startup, each in its own transaction. Append only: never edit a step that has shipped;
add the next one (``m002_...``)."""

from .settings import plugin

migrations = plugin.migrations  # sqlite-utils Migrations("datasette-internal-hello")


@migrations()
def m001_greetings(db):
    db[plugin.table("greetings")].create(
        {
            "id": int,
            "actor_id": str,
            "text": str,
            "html": str,
            "markdown_version": int,
            "created_at": str,
        },
        pk="id",
        not_null={"actor_id", "text", "html", "markdown_version", "created_at"},
    )
