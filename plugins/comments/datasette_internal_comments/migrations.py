"""Schema of the comment tables in the internal database, applied by datasette-internal-db."""

from sqlite_utils import Migrations

PLUGIN = "datasette-internal-comments"

migrations = Migrations(PLUGIN)

STATEMENT_END = "\n\n"


def run(db, script):
    # Statements one by one: executescript() would COMMIT the step's transaction half-way.
    for statement in script.strip().split(STATEMENT_END):
        db.execute(statement)


@migrations()
def m001_threads_and_comments(db):
    run(
        db,
        """
        create table datasette_internal_comments_threads (
            id integer primary key,
            target_type text not null
                check (target_type in ('database', 'table', 'column', 'row', 'cell')),
            database_name text not null,
            -- '' rather than null for targets above the table level, so that row-value IN
            -- lookups against the visible (database, table) pairs need no coalesce()
            table_name text not null default '',
            column_name text not null default '',
            row_key text not null default '',
            row_pks text,
            row_label text,
            anchor_value text,
            author_id text not null,
            created_at text not null,
            last_activity_at text not null,
            resolved_at text,
            resolved_by text
        );

        create index datasette_internal_comments_threads_target
            on datasette_internal_comments_threads
            (database_name, table_name, row_key, resolved_at);

        create index datasette_internal_comments_threads_activity
            on datasette_internal_comments_threads (last_activity_at);


        create table datasette_internal_comments_comments (
            id integer primary key,
            thread_id integer not null references datasette_internal_comments_threads(id),
            -- copied from the thread (a thread never moves) so that activity and scope checks
            -- read one table and the newest comments of a table come straight from an index
            database_name text not null,
            table_name text not null,
            author_id text not null,
            body text not null,
            created_at text not null,
            edited_at text,
            deleted_at text,
            deleted_by text
        );

        create index datasette_internal_comments_comments_thread
            on datasette_internal_comments_comments (thread_id, id);

        create index datasette_internal_comments_comments_author
            on datasette_internal_comments_comments (author_id, id);

        create index datasette_internal_comments_comments_target
            on datasette_internal_comments_comments (database_name, table_name, id);


        create table datasette_internal_comments_revisions (
            id integer primary key,
            comment_id integer not null references datasette_internal_comments_comments(id),
            body text not null,
            replaced_at text not null
        );

        create index datasette_internal_comments_revisions_comment
            on datasette_internal_comments_revisions (comment_id, id);


        create table datasette_internal_comments_reactions (
            comment_id integer not null references datasette_internal_comments_comments(id),
            actor_id text not null,
            emoji text not null,
            created_at text not null,
            primary key (comment_id, actor_id, emoji)
        );


        create table datasette_internal_comments_mentions (
            comment_id integer not null references datasette_internal_comments_comments(id),
            actor_id text not null,
            primary key (comment_id, actor_id)
        );

        create index datasette_internal_comments_mentions_actor
            on datasette_internal_comments_mentions (actor_id, comment_id);


        create table datasette_internal_comments_inbox (
            id integer primary key,
            actor_id text not null,
            comment_id integer not null references datasette_internal_comments_comments(id),
            -- copied from the comment so unread counts need no join
            database_name text not null,
            table_name text not null,
            reason text not null check (reason in ('mention', 'reply')),
            created_at text not null,
            read_at text,
            unique (actor_id, comment_id)
        );

        create index datasette_internal_comments_inbox_unread
            on datasette_internal_comments_inbox (actor_id, read_at, id);
        """,
    )


@migrations()
def m002_full_text_search(db):
    # External-content FTS5 index kept in step by triggers, so no write path can forget it.
    run(
        db,
        """
        create virtual table datasette_internal_comments_fts using fts5(
            body, content='datasette_internal_comments_comments', content_rowid='id'
        );

        create trigger datasette_internal_comments_fts_insert
        after insert on datasette_internal_comments_comments begin
            insert into datasette_internal_comments_fts (rowid, body) values (new.id, new.body);
        end;

        create trigger datasette_internal_comments_fts_delete
        after delete on datasette_internal_comments_comments begin
            insert into datasette_internal_comments_fts
                (datasette_internal_comments_fts, rowid, body)
            values ('delete', old.id, old.body);
        end;

        create trigger datasette_internal_comments_fts_update
        after update of body on datasette_internal_comments_comments begin
            insert into datasette_internal_comments_fts
                (datasette_internal_comments_fts, rowid, body)
            values ('delete', old.id, old.body);
            insert into datasette_internal_comments_fts (rowid, body) values (new.id, new.body);
        end;
        """,
    )


@migrations()
def m003_stored_html(db):
    # Bodies are rendered once when written; html_version says which renderer made the HTML, so a
    # renderer change (bumping rendering.RENDER_VERSION) makes older rows render afresh on read.
    comments = db["datasette_internal_comments_comments"]
    comments.add_column("html", str)
    comments.add_column("html_version", int)
