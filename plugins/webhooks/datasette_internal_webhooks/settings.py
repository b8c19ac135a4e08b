"""The plugin's handle on core (its name and runtime settings) and its datasette.yaml options.

Runtime settings change without a restart (``/-/internal/settings``); options are read once at
startup, and a mistake in them stops Datasette with a message naming it.
"""

import math
from dataclasses import dataclass, field

from datasette.utils import StartupError
from datasette_internal_db import Plugin, Setting

from .ssrf import parse_hosts, parse_networks

PLUGIN = "datasette-internal-webhooks"

plugin = Plugin(
    PLUGIN,
    settings=[
        Setting("paused", bool, False, "Pause every outgoing delivery; new messages keep queuing."),
        Setting(
            "disable_after_hours",
            int,
            120,
            "Disable an endpoint once its deliveries have failed for this many hours in a row.",
            minimum=1,
            maximum=10 * 365 * 24,
        ),
        Setting(
            "log_retention_days",
            int,
            30,
            "Delete delivery attempts, and finished deliveries with their messages, after this.",
            minimum=1,
            maximum=36500,
        ),
        Setting(
            "received_retention_days",
            int,
            30,
            "Delete received incoming payloads after this.",
            minimum=1,
            maximum=36500,
        ),
    ],
)


@dataclass(frozen=True)
class Options:
    allow_networks: list = field(default_factory=list)
    allow_hosts: frozenset = frozenset()
    https_only: bool = False
    timeout_seconds: float = 15.0
    concurrency_per_endpoint: int = 16
    max_in_flight: int = 512
    poll_interval: float = 1.0
    durable_enqueue: bool = True
    rotation_grace_hours: float = 24.0
    max_incoming_bytes: int = 256 * 1024
    endpoints: list = field(default_factory=list)
    incoming_targets: dict = field(default_factory=dict)


NUMBERS = {
    "timeout_seconds": float,
    "concurrency_per_endpoint": int,
    "max_in_flight": int,
    "poll_interval": float,
    "rotation_grace_hours": float,
    "max_incoming_bytes": int,
}


def load_options(datasette):
    """Validate the plugin's datasette.yaml block; a mistake stops startup with a clear message."""
    raw = datasette.plugin_config(PLUGIN) or {}
    values = {}
    try:
        values["allow_networks"] = parse_networks(raw.get("allow_networks"))
    except (TypeError, ValueError) as error:
        raise StartupError(f"{PLUGIN}: allow_networks: {error}") from None
    try:
        values["allow_hosts"] = parse_hosts(raw.get("allow_hosts") or [])
    except ValueError as error:
        raise StartupError(f"{PLUGIN}: allow_hosts: {error}") from None
    for key, kind in NUMBERS.items():
        if key in raw:
            try:
                value = kind(raw[key])
            except (TypeError, ValueError, OverflowError):
                raise StartupError(f"{PLUGIN}: {key} must be a number") from None
            if not 0 < value < math.inf:
                raise StartupError(f"{PLUGIN}: {key} must be a finite number greater than 0")
            values[key] = value
    for key in ("https_only", "durable_enqueue"):
        if key in raw:
            values[key] = raw[key] is True or str(raw[key]).lower() in ("true", "1", "yes")
    endpoints = raw.get("endpoints") or []
    if not isinstance(endpoints, list) or not all(isinstance(e, dict) for e in endpoints):
        raise StartupError(f"{PLUGIN}: endpoints must be a list of objects")
    values["endpoints"] = endpoints
    targets = raw.get("incoming_targets") or {}
    if not isinstance(targets, dict) or not all(
        isinstance(t, dict) and t.get("database") and t.get("table") for t in targets.values()
    ):
        raise StartupError(
            f"{PLUGIN}: incoming_targets maps an incoming slug to {{database: ..., table: ...}}"
        )
    values["incoming_targets"] = targets
    return Options(**values)


def check_incoming_targets(datasette, options):
    for slug, target in options.incoming_targets.items():
        database = datasette.databases.get(target["database"])
        if database is None or not database.is_mutable:
            raise StartupError(
                f"{PLUGIN}: incoming_targets.{slug}: {target['database']!r} is not a mutable"
                " database served by this Datasette"
            )
