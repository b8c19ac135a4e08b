"""The tables this plugin owns, all named datasette_internal_bookmarks_*, built step by step
with the sqlite-utils API. Core applies the steps in order at startup, each in its own
transaction. Append only: never edit a step that has shipped; add the next one."""

from datasette_internal_db import MARKDOWN_VERSION, render_markdown

from .settings import plugin
from .targets import normalize

migrations = plugin.migrations

BOOKMARKS = plugin.table("bookmarks")
TAGS = plugin.table("tags")
TAG_COUNTS = plugin.table("tag_counts")
FTS = plugin.table("fts")
LINKS = plugin.table("links")
LINK_DAYS = plugin.table("link_days")


@migrations()
def m001_bookmarks(db):
    db[BOOKMARKS].create(
        {
            "id": int,
            "owner_id": str,
            "url": str,
            "title": str,
            "note": str,
            "tags": str,
            "shared": int,
            "resource_kind": str,
            "resource_database": str,
            "resource_name": str,
            "resource_row": str,
            "broken": str,
            "checked_at": str,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        not_null={
            "owner_id",
            "url",
            "title",
            "tags",
            "shared",
            "resource_kind",
            "created_at",
            "updated_at",
        },
        defaults={"note": "", "tags": "[]", "shared": 0},
    )
    db[BOOKMARKS].create_index(["owner_id", "url"], unique=True)
    # Keyset pagination newest first: "mine" and "shared with me" are two indexed range scans.
    db[BOOKMARKS].create_index(["owner_id", "id"])
    db[BOOKMARKS].create_index(["shared", "id"])
    db[TAGS].create(
        {"bookmark_id": int, "tag": str}, pk=("bookmark_id", "tag"), not_null={"bookmark_id", "tag"}
    )
    db[TAGS].create_index(["tag", "bookmark_id"])
    db.execute(
        f"create virtual table {FTS} using fts5(title, note, tags, url,"
        f" content='{BOOKMARKS}', content_rowid='id')"
    )
    columns = "title, note, tags, url"
    db.execute(
        f"create trigger {BOOKMARKS}_fts_insert after insert on {BOOKMARKS} begin"
        f" insert into {FTS}(rowid, {columns}) values"
        " (new.id, new.title, new.note, new.tags, new.url); end"
    )
    db.execute(
        f"create trigger {BOOKMARKS}_fts_delete after delete on {BOOKMARKS} begin"
        f" insert into {FTS}({FTS}, rowid, {columns}) values"
        " ('delete', old.id, old.title, old.note, old.tags, old.url); end"
    )
    db.execute(
        f"create trigger {BOOKMARKS}_fts_update after update of {columns} on {BOOKMARKS} begin"
        f" insert into {FTS}({FTS}, rowid, {columns}) values"
        " ('delete', old.id, old.title, old.note, old.tags, old.url);"
        f" insert into {FTS}(rowid, {columns}) values"
        " (new.id, new.title, new.note, new.tags, new.url); end"
    )


@migrations()
def m002_links(db):
    db[LINKS].create(
        {
            "code": str,
            "target": str,
            "title": str,
            "owner_id": str,
            "resource_kind": str,
            "resource_database": str,
            "resource_name": str,
            "expires_at": str,
            "max_visits": int,
            "disabled": int,
            "visits": int,
            "last_visit_at": str,
            "created_at": str,
            "updated_at": str,
        },
        pk="code",
        not_null={
            "target",
            "title",
            "owner_id",
            "resource_kind",
            "disabled",
            "visits",
            "created_at",
            "updated_at",
        },
        defaults={"title": "", "disabled": 0, "visits": 0},
    )
    db[LINKS].create_index(["owner_id", "created_at"])
    db[LINK_DAYS].create(
        {"code": str, "day": str, "visits": int},
        pk=("code", "day"),
        not_null={"code", "day", "visits"},
    )


@migrations()
def m003_tag_counts(db):
    # Kept by triggers so the tag list of /-/bookmarks is one index read, not a group-by over
    # every bookmark of the owner.
    db[TAG_COUNTS].create(
        {"owner_id": str, "tag": str, "count": int},
        pk=("owner_id", "tag"),
        not_null={"owner_id", "tag", "count"},
    )
    db[TAG_COUNTS].create_index(["owner_id", "count"])
    owner = f"(select owner_id from {BOOKMARKS} where id = {{}}.bookmark_id)"
    db.execute(
        f"create trigger {TAGS}_count_insert after insert on {TAGS} begin"
        f" insert into {TAG_COUNTS} (owner_id, tag, count)"
        f" values ({owner.format('new')}, new.tag, 1)"
        " on conflict (owner_id, tag) do update set count = count + 1; end"
    )
    db.execute(
        f"create trigger {TAGS}_count_delete after delete on {TAGS} begin"
        f" update {TAG_COUNTS} set count = count - 1"
        f" where owner_id = {owner.format('old')} and tag = old.tag;"
        f" delete from {TAG_COUNTS} where owner_id = {owner.format('old')} and tag = old.tag"
        " and count <= 0; end"
    )
    db.execute(
        f"insert into {TAG_COUNTS} (owner_id, tag, count) select b.owner_id, t.tag, count(*)"
        f" from {TAGS} t join {BOOKMARKS} b on b.id = t.bookmark_id group by b.owner_id, t.tag"
    )


@migrations()
def m004_note_html(db):
    # Notes are rendered once when saved: rendering Markdown for every bookmark of every list
    # page cost more than the rest of the page.
    db[BOOKMARKS].add_column("note_html", str, not_null_default="")
    # m006 renders every note (again) with core's policy and records its version.


@migrations()
def m005_links_by_age(db):
    # short-links-admin lists everybody's links newest first: without this, every page sorts
    # the whole table.
    db[LINKS].create_index(["created_at", "code"])


@migrations()
def m006_note_markdown_version(db):
    # One Markdown policy (core's render_markdown: no images, so a shared note cannot carry a
    # tracking pixel). Notes are rendered again here; a row whose version differs from core's
    # MARKDOWN_VERSION later is rendered again when read (store_bookmarks.shown_note_html).
    db[BOOKMARKS].add_column("markdown_version", int, not_null_default=0)
    for row in list(db.query(f"select id, note from {BOOKMARKS}")):
        db.execute(
            f"update {BOOKMARKS} set note_html = ?, markdown_version = ? where id = ?",
            [render_markdown(row["note"]), MARKDOWN_VERSION, row["id"]],
        )


@migrations()
def m007_link_target_keys(db):
    # "Copy short link" reuses the actor's link to the same view: target_key is the target
    # normalized like a bookmark URL (paging noise dropped, parameters sorted).
    db[LINKS].add_column("target_key", str)
    for row in list(db.query(f"select code, target from {LINKS}")):
        try:
            key = normalize(row["target"])
        except ValueError:
            continue  # a target the redirect refuses anyway is never reused
        db.execute(f"update {LINKS} set target_key = ? where code = ?", [key, row["code"]])
    db[LINKS].create_index(["owner_id", "target_key"])
