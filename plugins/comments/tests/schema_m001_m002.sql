-- The SQL of m001_threads_and_comments and m002_full_text_search as shipped before migrations.py
-- used the sqlite-utils API (statements separated by blank lines). test_schema.py checks that the
-- API steps make the same schema. Never edit.

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
