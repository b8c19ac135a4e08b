"""The ``replication`` block of core's plugin config, checked, and the error every replication
problem raises (every module of replication imports this one, and this one imports none)."""

import re
from dataclasses import dataclass, fields
from urllib.parse import urlsplit

SETTING = "plugins.datasette-internal-db.replication"
STALE_OVERRIDE = f"-s {SETTING}.unsafe_start_stale true"
INSTALL = "pip install 'datasette-internal-db[replicate]'"
GO_DURATION = re.compile(r"(\d+(\.\d+)?(ms|s|m|h))+")
ROLES = ("primary", "read")
LOG_LEVELS = ("debug", "info", "warn", "error")


class ReplicationError(Exception):
    """A replication problem that must stop Datasette from starting (a StartupError)."""


@dataclass(frozen=True)
class ReplicationConfig:
    replica: str
    sync_interval: str = "1s"
    access_key_id: str | None = None
    secret_access_key: str | None = None
    role: str = "primary"
    primary_url: str | None = None
    unsafe_start_stale: bool = False
    startup_timeout: float = 30.0
    log_level: str = "warn"


def check_replica_url(replica):
    parts = urlsplit(replica) if isinstance(replica, str) else None
    if parts is None:
        raise ReplicationError(
            f"{SETTING}.replica is required: file:///absolute/folder or s3://bucket/path"
        )
    if parts.scheme == "file" and (parts.netloc or not parts.path.startswith("/")):
        raise ReplicationError(
            f"{SETTING}.replica {replica!r}: a file replica is file:///absolute/folder "
            "(three slashes, then the absolute path)"
        )
    if parts.scheme == "s3" and not parts.netloc:
        raise ReplicationError(f"{SETTING}.replica {replica!r}: s3://bucket/path")
    if parts.scheme not in ("file", "s3"):
        raise ReplicationError(
            f"{SETTING}.replica {replica!r}: only file:// and s3:// replicas are supported"
        )


def parse_config(raw):
    """The ``replication`` block of core's plugin config, checked; errors name the key."""
    if not isinstance(raw, dict):
        raise ReplicationError(f"{SETTING} must be a mapping with at least a replica URL")
    known = {field.name for field in fields(ReplicationConfig)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ReplicationError(
            f"{SETTING}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    options = dict(raw)
    check_replica_url(options.get("replica"))
    options["sync_interval"] = str(options.get("sync_interval", "1s"))
    if not GO_DURATION.fullmatch(options["sync_interval"]):
        raise ReplicationError(
            f"{SETTING}.sync_interval {options['sync_interval']!r}: a duration such as 1s, "
            "500ms or 1m"
        )
    if options.get("role", "primary") not in ROLES:
        raise ReplicationError(f"{SETTING}.role: one of {', '.join(ROLES)}")
    primary_url = options.get("primary_url")
    if primary_url is not None and (
        not isinstance(primary_url, str) or urlsplit(primary_url).scheme not in ("http", "https")
    ):
        raise ReplicationError(f"{SETTING}.primary_url {primary_url!r}: an http(s):// URL")
    if options.get("log_level", "warn") not in LOG_LEVELS:
        raise ReplicationError(f"{SETTING}.log_level: one of {', '.join(LOG_LEVELS)}")
    for key in ("access_key_id", "secret_access_key"):
        if options.get(key) is not None and not isinstance(options[key], str):
            raise ReplicationError(f'{SETTING}.{key}: a string, e.g. {{"$env": "S3_KEY"}}')
    try:
        options["startup_timeout"] = float(options.get("startup_timeout", 30.0))
    except (TypeError, ValueError):
        raise ReplicationError(f"{SETTING}.startup_timeout: a number of seconds") from None
    override = options.get("unsafe_start_stale", False)
    options["unsafe_start_stale"] = override is True or str(override).lower() in ("true", "1")
    return ReplicationConfig(**options)


def config_of(datasette):
    """This Datasette's ReplicationConfig, or None when replication is not configured."""
    from .migrations import CORE_SET

    raw = (datasette.plugin_config(CORE_SET) or {}).get("replication")
    return None if raw is None else parse_config(raw)
