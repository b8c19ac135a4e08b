"""The plugin's handle on core (name, tables, cache, audit log), its one runtime setting
(edited by root at /-/internal/settings or set in datasette.yaml), and the operator's email
configuration (datasette.yaml only: it holds credentials)."""

import weakref
from dataclasses import dataclass

from datasette_internal_db import InvalidInput, Plugin, Setting
from datasette_internal_db.text import CONTROL_CHARACTERS

plugin = Plugin(
    "datasette-internal-comments",
    settings=[
        Setting(
            "enabled",
            list,
            ["*"],
            'Where comments may be added: "*" for everywhere, "database" for every table of a '
            'database, "database/table" for one table. Existing comments stay readable.',
        ),
    ],
)


def is_enabled(patterns, database, table=""):
    for pattern in patterns:
        if pattern in ("*", database):
            return True
        if table and pattern == f"{database}/{table}":
            return True
    return False


async def comments_enabled(datasette, database, table=""):
    return is_enabled(await plugin.settings.get(datasette, "enabled"), database, table)


# ---------------------------------------------------------------------------- email

EMAIL_PREFERENCES = ("off", "each", "daily")
SECURITY_MODES = ("starttls", "ssl", "none")


@dataclass(frozen=True)
class EmailConfig:
    """The ``email`` block of the plugin's configuration; no ``smtp_host``, no email at all."""

    smtp_host: str = ""
    smtp_port: int = 587
    security: str = "starttls"
    username: str = ""
    password: str = ""
    sender: str = ""
    base_url: str = ""
    default_preference: str = "each"
    digest_hour: int = 8
    timeout: float = 30.0

    @property
    def enabled(self):
        return bool(self.smtp_host)


EMAIL_KEYS = {
    "smtp_host": "smtp_host",
    "smtp_port": "smtp_port",
    "security": "security",
    "username": "username",
    "password": "password",
    "from": "sender",
    "base_url": "base_url",
    "default": "default_preference",
    "digest_hour": "digest_hour",
    "timeout": "timeout",
}


def parse_email_config(block):
    """An ``EmailConfig`` from the ``email`` block, or InvalidInput naming the bad key."""
    if block is None:
        return EmailConfig()
    if not isinstance(block, dict):
        raise InvalidInput("'email' must be a mapping")
    unknown = sorted(set(block) - set(EMAIL_KEYS))
    if unknown:
        raise InvalidInput(f"unknown key(s) in 'email': {', '.join(unknown)}")
    values = {EMAIL_KEYS[key]: value for key, value in block.items() if value is not None}
    for name in ("smtp_port", "digest_hour"):
        # {"$env": ...} gives a string
        if isinstance(values.get(name), str) and values[name].isascii() and values[name].isdigit():
            values[name] = int(values[name])
    config = EmailConfig(**values)
    for name in ("smtp_host", "username", "password", "sender", "base_url"):
        if not isinstance(getattr(config, name), str):
            raise InvalidInput(f"'email.{name}' must be a string")
    if config.security not in SECURITY_MODES:
        raise InvalidInput(f"'email.security' must be one of {', '.join(SECURITY_MODES)}")
    if config.default_preference not in EMAIL_PREFERENCES:
        raise InvalidInput(f"'email.default' must be one of {', '.join(EMAIL_PREFERENCES)}")
    for name, low, high in (("smtp_port", 1, 65535), ("digest_hour", 0, 23)):
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise InvalidInput(f"'email.{name}' must be an integer from {low} to {high}")
    if isinstance(config.timeout, bool) or not isinstance(config.timeout, (int, float)):
        raise InvalidInput("'email.timeout' must be a number of seconds")
    if config.enabled:
        if "@" not in config.sender or CONTROL_CHARACTERS.search(config.sender):
            raise InvalidInput("'email.from' must be an address when 'smtp_host' is set")
        if not config.base_url.startswith(("https://", "http://")):
            raise InvalidInput("'email.base_url' must be an http(s) URL when 'smtp_host' is set")
    return config


_email_configs = weakref.WeakKeyDictionary()


def email_config(datasette):
    """The operator's email configuration (``$env`` values resolved by Datasette), read once."""
    if datasette not in _email_configs:
        block = (datasette.plugin_config(plugin.name) or {}).get("email")
        _email_configs[datasette] = parse_email_config(block)
    return _email_configs[datasette]
