"""Litestream's files beside the internal DB, its binary, one-shot ``litestream`` commands, and
positions (transaction numbers) read from the replica and from Litestream's local state.

Everything Litestream-related lives in Litestream's own folder beside the file,
``.<name>-litestream/``: its LTX files, the config core generates (no secrets in it) and, when
the path is short enough, the control socket.
"""

import json
import os
import shutil
import struct
import subprocess
import sys
import sysconfig
import tempfile
from hashlib import sha256

from .replication_config import INSTALL, ReplicationError

# A Unix socket path must fit in sockaddr_un (108 bytes on Linux, 104 on macOS).
MAX_SOCKET_PATH = 100
# An LTX file's header begins: magic, flags, page size, commit, min TXID, max TXID, unix ms.
LTX_HEADER = struct.Struct(">4sIIIQQq")


def meta_dir(path):
    """Litestream's own folder for ``path``: ``.<name>-litestream`` beside it."""
    path = os.path.abspath(path)
    return os.path.join(os.path.dirname(path), f".{os.path.basename(path)}-litestream")


def config_path(path):
    return os.path.join(meta_dir(path), "datasette-internal-db.yml")


def socket_path(path):
    """The control socket: in Litestream's folder, or under the temp folder when too long."""
    inside = os.path.join(meta_dir(path), "control.sock")
    if len(inside.encode()) <= MAX_SOCKET_PATH:
        return inside
    digest = sha256(os.path.realpath(path).encode()).hexdigest()[:16]
    return os.path.join(tempfile.gettempdir(), f"datasette-litestream-{digest}.sock")


def write_litestream_config(path, config):
    """The config ``litestream`` runs with; credentials stay in its environment, not here."""
    document = {
        "socket": {"enabled": True, "path": socket_path(path)},
        "logging": {"level": config.log_level},
        "dbs": [
            {
                "path": os.path.abspath(path),
                "replica": {"url": config.replica, "sync-interval": config.sync_interval},
            }
        ],
    }
    os.makedirs(meta_dir(path), exist_ok=True)
    temporary = f"{config_path(path)}.{os.getpid()}.tmp"
    with open(temporary, "w") as handle:
        json.dump(document, handle, indent=2)  # JSON is valid YAML
    os.replace(temporary, config_path(path))


def read_litestream_config(path):
    """What the last server replicating ``path`` was configured with, or None."""
    try:
        with open(config_path(path)) as handle:
            document = json.load(handle)
        replica = document["dbs"][0]["replica"]
        return {
            "replica": replica["url"],
            "sync_interval": replica["sync-interval"],
            "socket": document["socket"]["path"],
        }
    except (OSError, ValueError, KeyError, IndexError):
        return None


def litestream_binary():
    candidates = [
        os.path.join(sysconfig.get_path("scripts"), "litestream"),
        os.path.join(os.path.dirname(sys.executable), "litestream"),
        shutil.which("litestream"),
    ]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise ReplicationError(f"Replication is configured but litestream is missing: {INSTALL}")


def litestream_env(config):
    """Environment for Litestream and the VFS probe. Configured credentials win over any AWS_*
    the server inherited (Litestream reads AWS_* before LITESTREAM_*)."""
    env = dict(os.environ)
    if config.access_key_id is not None:
        env["AWS_ACCESS_KEY_ID"] = env["LITESTREAM_ACCESS_KEY_ID"] = config.access_key_id
    if config.secret_access_key is not None:
        secret = config.secret_access_key
        env["AWS_SECRET_ACCESS_KEY"] = env["LITESTREAM_SECRET_ACCESS_KEY"] = secret
    return env


def run_litestream(config, command, *args, timeout=120):
    # -no-expand-env: the generated config has no variables, and a "$" in a URL must stay.
    expand = ["-no-expand-env"] if "-config" in args else []
    argv = [litestream_binary(), command, *expand, *args]
    try:
        result = subprocess.run(
            argv, env=litestream_env(config), capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        raise ReplicationError(f"litestream {command} did not finish in {timeout} s") from None
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        raise ReplicationError(
            f"litestream {command} failed (exit {result.returncode}): {' | '.join(lines[-5:])}"
        )
    return result.stdout


# ---------------------------------------------------------------- positions


def txid(value):
    return int(value, 16) if isinstance(value, str) else value


def replica_files(path, config):
    """Every LTX file the replica holds, as ``litestream ltx`` lists them."""
    output = run_litestream(
        config, "ltx", "-json", "-level", "all", "-config", config_path(path), path
    )
    return json.loads(output or "[]")


def local_files(path):
    """This machine's level-0 LTX files for ``path`` (Litestream's position), oldest first."""
    folder = os.path.join(meta_dir(path), "ltx", "0")
    try:
        names = sorted(name for name in os.listdir(folder) if name.endswith(".ltx"))
    except FileNotFoundError:
        return []
    files = []
    for name in names:
        first, last = name.removesuffix(".ltx").split("-")
        files.append(
            {
                "min_txid": int(first, 16),
                "max_txid": int(last, 16),
                "path": os.path.join(folder, name),
            }
        )
    return files


def ltx_written_at(ltx_path):
    """The creation time in an LTX file's header, in Unix seconds."""
    with open(ltx_path, "rb") as handle:
        magic, *_, milliseconds = LTX_HEADER.unpack(handle.read(LTX_HEADER.size))
    if magic != b"LTX1":
        raise ValueError(f"{ltx_path} is not an LTX file")
    return milliseconds / 1000


def newest_txid(files):
    return max((txid(entry["max_txid"]) for entry in files), default=0)
