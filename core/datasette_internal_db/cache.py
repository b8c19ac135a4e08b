"""A small expiring cache in the internal DB, shared by every request and kept across restarts."""

import json
import weakref
from collections import OrderedDict

from . import clock
from .database import get_internal_db
from .errors import InvalidInput

MAX_KEY_LENGTH = 512
MAX_VALUE_BYTES = 256 * 1024
MEMO_ENTRIES = 1024


class Memo:
    def __init__(self):
        self.entries = OrderedDict()  # key → (encoded value, expires_at), least recent first
        self.writes = 0


class Cache:
    """Declare once per plugin, at module level: ``Cache("datasette-internal-x")``."""

    def __init__(self, namespace, max_entries=10_000, default_ttl=3600):
        self.namespace = namespace
        self.max_entries = max_entries
        self.default_ttl = default_ttl
        # The most recently used entries, per Datasette instance, in front of the table: a hit
        # needs no trip to the read thread. Only this process writes the internal DB (core's
        # lock) and every write here updates the memo, so it can only lag behind an entry the
        # table dropped to stay within max_entries, which is still fresh: no harm.
        self._memos = weakref.WeakKeyDictionary()

    def _memo(self, datasette):
        return self._memos.setdefault(datasette, Memo())

    def _remember(self, memo, key, encoded, expires_at):
        memo.entries[key] = (encoded, expires_at)
        memo.entries.move_to_end(key)
        while len(memo.entries) > min(MEMO_ENTRIES, self.max_entries):
            memo.entries.popitem(last=False)

    def _recall(self, memo, key, now):
        found = memo.entries.get(key)
        if found is None:
            return None
        encoded, expires_at = found
        if expires_at is not None and expires_at <= now:
            del memo.entries[key]
            return None
        memo.entries.move_to_end(key)
        return encoded

    def _check_key(self, key):
        if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
            raise InvalidInput(
                f"Cache keys are non-empty strings of at most {MAX_KEY_LENGTH} chars"
            )

    async def get(self, datasette, key, default=None):
        self._check_key(key)
        found = await self.get_many(datasette, [key])
        return found[key] if key in found else default

    async def get_many(self, datasette, keys):
        """``{key: value}`` for the keys that are cached and fresh, in one query at most."""
        keys = list(keys)
        for key in keys:
            self._check_key(key)
        memo, now = self._memo(datasette), clock.now()
        encoded = {}
        for key in keys:
            hit = self._recall(memo, key, now)
            if hit is not None:
                encoded[key] = hit
        missing = [key for key in keys if key not in encoded]
        if missing:
            writes = memo.writes
            rows = await get_internal_db(datasette).execute(
                "select key, value, expires_at from _datasette_internal_cache"
                " where namespace = ? and key in (select value from json_each(?))"
                " and (expires_at is null or expires_at > ?)",
                [self.namespace, json.dumps(missing), now],
            )
            for row in rows:
                encoded[row["key"]] = row["value"]
                # A write that landed during the read may have made this row stale.
                if memo.writes == writes:
                    self._remember(memo, row["key"], row["value"], row["expires_at"])
        # Decoded for every caller, so no caller can change what another one gets.
        return {key: json.loads(value) for key, value in encoded.items()}

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

        memo = self._memo(datasette)
        try:
            await get_internal_db(datasette).execute_write_fn(write)
        finally:
            memo.writes += 1
            for _, key, _, _, _ in rows:
                memo.entries.pop(key, None)
        for _, key, encoded, expires_at, _ in rows:
            self._remember(memo, key, encoded, expires_at)

    async def delete(self, datasette, key):
        self._check_key(key)
        try:
            await get_internal_db(datasette).execute_write(
                "delete from _datasette_internal_cache where namespace = ? and key = ?",
                [self.namespace, key],
            )
        finally:
            memo = self._memo(datasette)
            memo.writes += 1
            memo.entries.pop(key, None)


async def prune_expired(datasette):
    """Delete every expired entry of every namespace; returns how many."""
    result = await get_internal_db(datasette).execute_write(
        "delete from _datasette_internal_cache where expires_at <= ?", [clock.now()]
    )
    return result.rowcount
