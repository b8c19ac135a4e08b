"""Every SQL statement of the plugin. Each function takes ``datasette`` first."""

from datasette_internal_db import (
    MARKDOWN_VERSION,
    InvalidInput,
    clock,
    get_internal_db,
    render_markdown,
)

from .settings import plugin

GREETINGS = plugin.table("greetings")


async def add_greeting(datasette, actor_id, text):
    """Store ``text`` (Markdown) with its HTML; returns the greeting as ``list_greetings`` does."""
    max_length = await plugin.settings.get(datasette, "max_length")
    if not isinstance(text, str) or not text.strip() or len(text) > max_length:
        raise InvalidInput(f"'text' must be a non-empty string of at most {max_length} characters")
    row = {
        "actor_id": actor_id,
        "text": text,
        "html": render_markdown(text),
        "markdown_version": MARKDOWN_VERSION,
        "created_at": clock.iso(),
    }
    cursor = await get_internal_db(datasette).execute_write(
        f"insert into {GREETINGS} (actor_id, text, html, markdown_version, created_at)"
        " values (:actor_id, :text, :html, :markdown_version, :created_at)",
        row,
    )
    return shown({"id": cursor.lastrowid, **row})


async def list_greetings(datasette, limit, before_id=None):
    """Newest first: up to ``limit`` greetings whose id is below ``before_id``."""
    rows = await get_internal_db(datasette).execute(
        f"select id, actor_id, text, html, markdown_version, created_at from {GREETINGS}"
        " where :before_id is null or id < :before_id order by id desc limit :limit",
        {"before_id": before_id, "limit": limit},
    )
    return [shown(dict(row)) for row in rows]


def shown(row):
    """A row as the API and the page show it. HTML stored by an older Markdown renderer is
    rendered again, so a stricter policy reaches old rows too."""
    html = row["html"]
    if row["markdown_version"] != MARKDOWN_VERSION:
        html = render_markdown(row["text"])
    return {
        "id": row["id"],
        "actor_id": row["actor_id"],
        "text": row["text"],
        "html": html,
        "created_at": row["created_at"],
    }
