"""A small expiring cache in the internal DB, shared by every request and kept across restarts."""

import json

from . import clock
from .database import get_internal_db
from .errors import InvalidInput

MAX_KEY_LENGTH = 512
MAX_VALUE_BYTES = 256 * 1024


class Cache:
    """Declare once per plugin, at module level: ``Cache("datasette-internal-x")``."""

    def __init__(self, namespace, max_entries=10_000, default_ttl=3600):
        self.namespace = namespace
        self.max_entries = max_entries
        self.default_ttl = default_ttl

    def _check_key(self, key):
        if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
            raise InvalidInput(
                f"Cache keys are non-empty strings of at most {MAX_KEY_LENGTH} chars"
            )

    async def get(self, datasette, key, default=None):
        self._check_key(key)
        row = (
            await get_internal_db(datasette).execute(
                "select value from _datasette_internal_cache where namespace = ? and key = ?"
                " and (expires_at is null or expires_at > ?)",
                [self.namespace, key, clock.now()],
            )
        ).first()
        return default if row is None else json.loads(row["value"])

    async def get_many(self, datasette, keys):
        """``{key: value}`` for the keys that are cached and fresh, in one query."""
        keys = list(keys)
        for key in keys:
            self._check_key(key)
        if not keys:
            return {}
        rows = await get_internal_db(datasette).execute(
            "select key, value from _datasette_internal_cache where namespace = ?"
            " and key in (select value from json_each(?))"
            " and (expires_at is null or expires_at > ?)",
            [self.namespace, json.dumps(keys), clock.now()],
        )
        return {row["key"]: json.loads(row["value"]) for row in rows}

    async def set(self, datasette, key, value, ttl=None):
        """Store ``value`` (anything JSON can hold) for ``ttl`` seconds (``0``: no expiry)."""
        await self.set_many(datasette, {key: value}, ttl)

    async def set_many(self, datasette, items, ttl=None):
        ttl = self.default_ttl if ttl is None else ttl
        if not isinstance(ttl, (int, float)) or isinstance(ttl, bool) or ttl < 0:
            raise InvalidInput("ttl must be a number of seconds >= 0")
        stored_at = clock.now()
        expires_at = stored_at + ttl if ttl else None
        rows = []
        for key, value in items.items():
            self._check_key(key)
            try:
                encoded = json.dumps(value)
            except (TypeError, ValueError) as error:
                raise InvalidInput(f"Cache value for {key!r} is not JSON: {error}") from None
            if len(encoded.encode()) > MAX_VALUE_BYTES:
                raise InvalidInput(
                    f"Cache value for {key!r} is larger than {MAX_VALUE_BYTES} bytes"
                )
            rows.append((self.namespace, key, encoded, expires_at, stored_at))

        def write(conn):
            conn.executemany(
                "insert or replace into _datasette_internal_cache"
                " (namespace, key, value, expires_at, stored_at) values (?, ?, ?, ?, ?)",
                rows,
            )
            # Bound the namespace: drop the oldest entries beyond max_entries.
            conn.execute(
                "delete from _datasette_internal_cache where namespace = :ns and rowid in ("
                " select rowid from _datasette_internal_cache where namespace = :ns"
                " order by stored_at desc limit -1 offset :keep)",
                {"ns": self.namespace, "keep": self.max_entries},
            )

        await get_internal_db(datasette).execute_write_fn(write)

    async def delete(self, datasette, key):
        self._check_key(key)
        await get_internal_db(datasette).execute_write(
            "delete from _datasette_internal_cache where namespace = ? and key = ?",
            [self.namespace, key],
        )


async def prune_expired(datasette):
    """Delete every expired entry of every namespace; returns how many."""
    result = await get_internal_db(datasette).execute_write(
        "delete from _datasette_internal_cache where expires_at <= ?", [clock.now()]
    )
    return result.rowcount
