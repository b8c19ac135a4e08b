CREATE TABLE datasette_internal_webhooks_endpoints (
            id text primary key,
            url text not null,
            description text not null default '',
            event_types text not null,
            filter_database text,
            filter_table text,
            active integer not null default 1,
            disabled_reason text,
            disabled_at text,
            failing_since real,
            previous_secret_expires_at real,
            config_key text unique,
            secret_from_config integer not null default 0,
            created_by text,
            created_at text not null,
            updated_at text not null
        );

CREATE TABLE datasette_internal_webhooks_messages (
            id text primary key,
            event_type text not null,
            payload text not null,
            created_at real not null
        );

CREATE TABLE datasette_internal_webhooks_deliveries (
            id integer primary key,
            message_id text not null references datasette_internal_webhooks_messages(id),
            endpoint_id text not null,
            status text not null check (status in ('pending', 'succeeded', 'failed')),
            attempts integer not null default 0,
            next_attempt_at real,
            last_status_code integer,
            last_error text,
            created_at real not null,
            updated_at real not null
        );

CREATE INDEX datasette_internal_webhooks_messages_created on datasette_internal_webhooks_messages (created_at, id);

CREATE INDEX datasette_internal_webhooks_deliveries_due on datasette_internal_webhooks_deliveries (status, next_attempt_at);

CREATE INDEX datasette_internal_webhooks_deliveries_endpoint on datasette_internal_webhooks_deliveries (endpoint_id, status, next_attempt_at);

CREATE INDEX datasette_internal_webhooks_deliveries_message on datasette_internal_webhooks_deliveries (message_id);

CREATE TABLE datasette_internal_webhooks_attempts (
            id integer primary key,
            delivery_id integer not null,
            message_id text not null,
            endpoint_id text not null,
            attempted_at real not null,
            status_code integer,
            latency_ms real,
            response_body text,
            error text,
            succeeded integer not null
        );

CREATE INDEX datasette_internal_webhooks_attempts_endpoint on datasette_internal_webhooks_attempts (endpoint_id, id);

CREATE INDEX datasette_internal_webhooks_attempts_delivery on datasette_internal_webhooks_attempts (delivery_id);

CREATE INDEX datasette_internal_webhooks_attempts_time on datasette_internal_webhooks_attempts (attempted_at);

CREATE TABLE datasette_internal_webhooks_incoming (
            id text primary key,
            slug text not null unique,
            scheme text not null check (scheme in ('standard', 'github', 'bearer')),
            description text not null default '',
            token_hash text,
            active integer not null default 1,
            created_by text,
            created_at text not null,
            updated_at text not null
        );

CREATE TABLE datasette_internal_webhooks_received (
            id integer primary key,
            incoming_id text not null,
            message_id text,
            received_at real not null,
            content_type text,
            body text not null
        );

CREATE INDEX datasette_internal_webhooks_received_incoming on datasette_internal_webhooks_received (incoming_id, id);

CREATE INDEX datasette_internal_webhooks_received_time on datasette_internal_webhooks_received (received_at);

CREATE TABLE datasette_internal_webhooks_seen (
            incoming_id text not null,
            message_id text not null,
            seen_at real not null,
            primary key (incoming_id, message_id)
        );

CREATE INDEX datasette_internal_webhooks_seen_time on datasette_internal_webhooks_seen (seen_at);

