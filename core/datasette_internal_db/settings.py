"""Runtime settings: per-plugin typed values changed without a restart, falling back to config."""

import json
import weakref
from dataclasses import dataclass
from typing import Any

from . import clock
from .database import get_internal_db
from .errors import InvalidInput
from .web import MAX_SQLITE_INTEGER, MIN_SQLITE_INTEGER

MAX_VALUE_BYTES = 64 * 1024
TYPES = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "list",
    dict: "object",
}

registry = {}


@dataclass(frozen=True)
class Setting:
    """``minimum``/``maximum`` bound an integer or number setting (inclusive); integers are
    always kept within SQLite's 64 bits and numbers finite."""

    name: str
    type: type
    default: Any
    description: str = ""
    minimum: float | None = None
    maximum: float | None = None


def check_type(setting, value):
    expected = setting.type
    ok = isinstance(value, expected) and not (expected is not bool and isinstance(value, bool))
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        ok = True
    if not ok:
        raise InvalidInput(
            f"Setting {setting.name!r} must be a {TYPES[expected]}, got {type(value).__name__}"
        )
    if expected in (int, float):
        low = MIN_SQLITE_INTEGER if setting.minimum is None else setting.minimum
        high = MAX_SQLITE_INTEGER if setting.maximum is None else setting.maximum
        if not low <= value <= high:  # also False for NaN
            raise InvalidInput(f"Setting {setting.name!r} must be from {low} to {high}")


class RuntimeSettings:
    """Declare once per plugin, at module level: ``RuntimeSettings(plugin, [Setting(...)])``."""

    def __init__(self, plugin, settings):
        self.plugin = plugin
        self.settings = {setting.name: setting for setting in settings}
        # Runtime values read per Datasette instance, so hot paths need no query. Only this
        # process writes the internal DB (core's lock), and every write goes through _write,
        # which replaces the instance's memo: a read that raced the write fills the old one.
        self._memo = weakref.WeakKeyDictionary()
        registry[plugin] = self

    def _setting(self, key):
        if not isinstance(key, str):
            raise InvalidInput(f"A setting's key is a string, not {type(key).__name__}")
        try:
            return self.settings[key]
        except KeyError:
            known = ", ".join(sorted(self.settings))
            raise InvalidInput(
                f"Unknown setting {key!r} for {self.plugin}; known: {known}"
            ) from None

    async def _stored(self, datasette):
        rows = await get_internal_db(datasette).execute(
            "select key, value, updated_by, updated_at from _datasette_internal_settings"
            " where plugin = ?",
            [self.plugin],
        )
        return {row["key"]: dict(row) for row in rows}

    def _configured(self, datasette):
        return datasette.plugin_config(self.plugin) or {}

    async def get(self, datasette, key):
        setting = self._setting(key)
        memo = self._memo.setdefault(datasette, {})
        if key not in memo:
            row = (
                await get_internal_db(datasette).execute(
                    "select value from _datasette_internal_settings where plugin = ? and key = ?",
                    [self.plugin, key],
                )
            ).first()
            memo[key] = None if row is None else row["value"]
        return self._value(datasette, setting, memo[key])

    def _value(self, datasette, setting, stored):
        # Decoded afresh for every caller: a list or dict handed out must not alias the memo.
        if stored is not None:
            return json.loads(stored)
        return self._configured(datasette).get(setting.name, setting.default)

    def check_configured(self, datasette):
        """InvalidInput naming the first value in ``datasette.yaml`` that ``set`` would refuse."""
        for key, value in self._configured(datasette).items():
            setting = self.settings.get(key)
            if setting is not None:
                try:
                    check_type(setting, value)
                except InvalidInput as error:
                    message = f"plugins.{self.plugin}.{key} in datasette.yaml: {error}"
                    raise InvalidInput(message) from None

    async def all(self, datasette):
        stored = await self._stored(datasette)
        configured = self._configured(datasette)
        result = {}
        for key, setting in self.settings.items():
            entry = {"type": TYPES[setting.type], "description": setting.description}
            if key in stored:
                entry.update(
                    value=json.loads(stored[key]["value"]),
                    source="runtime",
                    updated_by=stored[key]["updated_by"],
                    updated_at=stored[key]["updated_at"],
                )
            elif key in configured:
                entry.update(value=configured[key], source="config")
            else:
                entry.update(value=setting.default, source="default")
            result[key] = entry
        return result

    async def set(self, datasette, key, value, actor_id=None):
        check_type(self._setting(key), value)
        encoded = json.dumps(value)
        if len(encoded.encode()) > MAX_VALUE_BYTES:
            raise InvalidInput(f"Setting {key!r} is larger than {MAX_VALUE_BYTES} bytes")
        await self._write(datasette, key, encoded, actor_id)

    async def reset(self, datasette, key, actor_id=None):
        """Drop the runtime value so config (or the default) applies again."""
        self._setting(key)
        await self._write(datasette, key, None, actor_id)

    async def _write(self, datasette, key, encoded, actor_id):
        changed_at = clock.iso()

        def write(conn):
            if encoded is None:
                conn.execute(
                    "delete from _datasette_internal_settings where plugin = ? and key = ?",
                    [self.plugin, key],
                )
            else:
                conn.execute(
                    "insert into _datasette_internal_settings"
                    " (plugin, key, value, updated_by, updated_at) values (?, ?, ?, ?, ?)"
                    " on conflict (plugin, key) do update set value = excluded.value,"
                    " updated_by = excluded.updated_by, updated_at = excluded.updated_at",
                    [self.plugin, key, encoded, actor_id, changed_at],
                )
            conn.execute(
                "insert into _datasette_internal_settings_history"
                " (plugin, key, value, changed_by, changed_at) values (?, ?, ?, ?, ?)",
                [self.plugin, key, encoded, actor_id, changed_at],
            )

        try:
            await get_internal_db(datasette).execute_write_fn(write)
        finally:
            self._memo[datasette] = {}

    async def history(self, datasette, key=None, limit=50):
        sql = (
            "select key, value, changed_by, changed_at from _datasette_internal_settings_history"
            " where plugin = :plugin"
        )
        if key is not None:
            self._setting(key)
            sql += " and key = :key"
        sql += " order by id desc limit :limit"
        rows = await get_internal_db(datasette).execute(
            sql, {"plugin": self.plugin, "key": key, "limit": limit}
        )
        return [
            {
                "key": row["key"],
                "value": None if row["value"] is None else json.loads(row["value"]),
                "reset": row["value"] is None,
                "changed_by": row["changed_by"],
                "changed_at": row["changed_at"],
            }
            for row in rows
        ]
