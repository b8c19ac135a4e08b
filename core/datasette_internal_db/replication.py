"""Replicating the internal DB with Litestream 0.5: configuration, restore on boot, the
stale-primary refusal, and the ``litestream replicate`` process core runs beside Datasette.

Why core supervises Litestream instead of running under ``litestream replicate -exec``
(measured, docs/scale-out.md): Litestream starts uploading before it runs the ``-exec``
command, so a check inside Datasette would come after an old primary had already overwritten
the replica; and when Litestream dies under ``-exec``, Datasette keeps serving writes that are no
longer replicated and nothing notices. Here the checks run in core's first startup hook, before
any Litestream touches the replica, and a Litestream that exits is restarted.

Everything Litestream-related lives in Litestream's own folder beside the file,
``.<name>-litestream/``: its LTX files, the config core generates (no secrets in it) and, when
the path is short enough, the control socket.
"""

import asyncio
import atexit
import json
import logging
import os
import re
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass, fields
from hashlib import sha256
from urllib.parse import urlsplit

from . import clock

log = logging.getLogger("datasette_internal_db")

SETTING = "plugins.datasette-internal-db.replication"
STALE_OVERRIDE = f"-s {SETTING}.unsafe_start_stale true"
INSTALL = "pip install 'datasette-internal-db[replicate]'"
HERE = os.path.dirname(os.path.abspath(__file__))
PROBE = os.path.join(HERE, "replica_probe.py")
CHILD = os.path.join(HERE, "litestream_child.py")
WRITERS_TABLE = "_datasette_internal_writers"
GO_DURATION = re.compile(r"(\d+(\.\d+)?(ms|s|m|h))+")
ROLES = ("primary", "read")
LOG_LEVELS = ("debug", "info", "warn", "error")
# A Unix socket path must fit in sockaddr_un (108 bytes on Linux, 104 on macOS).
MAX_SOCKET_PATH = 100
# An LTX file's header begins: magic, flags, page size, commit, min TXID, max TXID, unix ms.
LTX_HEADER = struct.Struct(">4sIIIQQq")


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


# ---------------------------------------------------------------- Litestream's files and runs


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


def local_writer_epochs(path):
    """The writer epochs recorded in the local file (none before migration m008_writers)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        exists = conn.execute(
            "select 1 from sqlite_master where type = 'table' and name = ?", [WRITERS_TABLE]
        ).fetchone()
        if not exists:
            return set()
        return {row[0] for row in conn.execute(f"select epoch from {WRITERS_TABLE}")}
    finally:
        conn.close()


def replica_writer(config, timeout=60):
    """The replica's newest writer epoch, read through litestream-vfs in a process of its own
    (the VFS takes its configuration only from the environment a process starts with)."""
    env = litestream_env(config)
    env["LITESTREAM_REPLICA_URL"] = config.replica
    problem = "no answer"
    try:
        result = subprocess.run(
            [sys.executable, PROBE], env=env, capture_output=True, text=True, timeout=timeout
        )
        lines = result.stdout.strip().splitlines()
        answer = json.loads(lines[-1]) if lines else {"ok": False, "error": result.stderr[-500:]}
        if answer["ok"]:
            return answer["writer"]
        problem = answer["error"]
    except subprocess.TimeoutExpired:
        problem = f"no answer in {timeout} s"
    except ValueError as error:
        problem = str(error)
    raise ReplicationError(
        f"The stale-primary check could not read the replica through litestream-vfs: {problem}. "
        f"It needs litestream-vfs ({INSTALL}) and a Python whose SQLite can load extensions."
    )


# ---------------------------------------------------------------- restore and refusal


def is_missing(path):
    return not os.path.exists(path) or os.path.getsize(path) == 0


def restore(path, config):
    """Restore ``path`` from the replica when the file is missing; True if it was restored.

    A ``-wal``/``-shm`` or Litestream state left without their database belong to a file that
    is gone: applied to the restored copy they would corrupt it, so they are removed first.
    The copy is restored beside the path and linked into place only if no file appeared
    meanwhile, so a second server starting at the same moment cannot replace it.
    """
    if os.path.exists(path) and os.path.getsize(path) == 0:
        os.unlink(path)
    for suffix in ("-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.unlink(path + suffix)
    shutil.rmtree(meta_dir(path), ignore_errors=True)
    write_litestream_config(path, config)
    restoring = f"{path}.restoring-{os.getpid()}"
    for leftover in (restoring, restoring + "-wal", restoring + "-shm"):
        if os.path.exists(leftover):
            os.unlink(leftover)
    started = time.perf_counter()
    run_litestream(
        config, "restore", "-if-replica-exists", "-config", config_path(path), "-o", restoring, path
    )
    if not os.path.exists(restoring):
        return False  # the replica is empty: a new database
    try:
        os.link(restoring, path)
    except FileExistsError:
        raise ReplicationError(
            f"{path} appeared while it was being restored: is another server starting on it?"
        ) from None
    finally:
        os.unlink(restoring)
    log.warning(
        "Internal database %s restored from %s in %.1f s",
        path,
        config.replica,
        time.perf_counter() - started,
    )
    return True


def check_not_stale(path, config):
    """Refuse to become the writer of a replica this file is behind, or has diverged from.

    Behind: Litestream's position for the file (its newest local LTX file) is older than the
    replica's newest transaction. Diverged: the replica's newest writer epoch (written by every
    server at its start as the writer, before Litestream runs) is not in this file's history:
    another server became the writer after this file was last replicated (a failover). Started
    anyway, Litestream 0.5 uploads this file's history under transaction numbers the replica
    already used, and a restore returns a mix or this file's rows instead of acknowledged ones.
    """
    write_litestream_config(path, config)
    files = replica_files(path, config)
    if not files:
        return
    replica_position = newest_txid(files)
    local = local_files(path)
    fix = (
        f"To serve what the replica holds, move {path} aside with its -wal and -shm files and "
        f"{meta_dir(path)}: the next start restores it from the replica. To make this file the "
        f"replica's history instead, discarding what the replica gained since, start once with "
        f"{STALE_OVERRIDE}."
    )
    where = f"Refusing to start as the writer of {config.replica}"
    if not local:
        raise ReplicationError(
            f"{where}: {path} was not replicated from this machine (no Litestream state beside "
            f"it) and the replica holds transactions up to {replica_position}, so this file may "
            f"be behind or diverged. {fix}"
        )
    local_position = newest_txid(local)
    if local_position < replica_position:
        raise ReplicationError(
            f"{where}: {path} is behind it. This file was replicated up to transaction "
            f"{local_position}, the replica holds up to {replica_position}: another server wrote "
            f"to the replica since (a failover?) and starting here would overwrite that. {fix}"
        )
    newest = replica_writer(config)
    if newest is not None and newest["epoch"] not in local_writer_epochs(path):
        raise ReplicationError(
            f"{where}: {path} has diverged from it. The replica's newest writer (started "
            f"{newest['started_at']} on {newest['host']}, pid {newest['pid']}) is not in this "
            f"file's history: another server became the writer after this file was last "
            f"replicated (a failover). {fix}"
        )


def prepare_primary(path, config):
    """Before Datasette opens the file: restore it when missing, else refuse a stale file.
    True when it was restored."""
    litestream_binary()
    restored = False
    if is_missing(path):
        restored = restore(path, config)
    elif config.unsafe_start_stale:
        log.warning(
            "\n!!! UNSAFE: unsafe_start_stale is set: %s is not checked against %s; if it is "
            "behind or diverged, what the replica gained since is overwritten.",
            path,
            config.replica,
        )
    else:
        check_not_stale(path, config)
    write_litestream_config(path, config)
    return restored


async def record_writer(internal):
    """A new writer epoch, committed before Litestream starts, so the replica's first sync of
    this server carries it: any older primary started later finds it missing from its file."""
    await internal.execute_write(
        f"insert into {WRITERS_TABLE} (epoch, started_at, host, pid) values (?, ?, ?, ?)",
        [os.urandom(16).hex(), clock.iso(), socket.gethostname(), os.getpid()],
    )


# Between prepare() and start_replication(): a read node's replica database; whether a
# primary's file was just restored.
_replicas = weakref.WeakKeyDictionary()
_restored = weakref.WeakKeyDictionary()


async def prepare(datasette):
    """Core's startup, before the lock: the replication config (None without one), with the
    file restored if missing or refused if stale. Problems are StartupErrors."""
    from datasette.utils import StartupError

    from .database import get_internal_db, is_persistent

    try:
        config = config_of(datasette)
        if config is None:
            return None
        if not is_persistent(datasette):
            raise ReplicationError(
                f"{SETTING} is set but there is no internal file to replicate: "
                "start with --internal PATH"
            )
        if config.role == "read":
            from . import readnode
            from .lifecycle import migration_sets

            sets = migration_sets(datasette)
            _replicas[datasette] = await asyncio.to_thread(
                readnode.prepare, datasette, config, sets
            )
        else:
            path = get_internal_db(datasette).path
            _restored[datasette] = await asyncio.to_thread(prepare_primary, path, config)
    except ReplicationError as error:
        raise StartupError(str(error)) from None
    return config


async def start_replication(datasette, config):
    """Core's startup, last step. A primary: a new writer epoch, then Litestream and its first
    sync. A read node: plugins read the replica from now on."""
    from datasette.utils import StartupError

    from .database import get_internal_db, use_read_replica

    if config.role == "read":
        use_read_replica(datasette, _replicas.pop(datasette))
        return
    internal = get_internal_db(datasette)
    await record_writer(internal)
    # After a restore Litestream's first upload is the whole file (it always snapshots a
    # database that is behind its replica): Datasette serves meanwhile, or the RTO would
    # include uploading again what was just downloaded.
    wait = not _restored.pop(datasette, False)
    try:
        await asyncio.to_thread(start, datasette, internal.path, config, wait)
    except ReplicationError as error:
        raise StartupError(str(error)) from None


# ---------------------------------------------------------------- the litestream process

_supervisors = weakref.WeakKeyDictionary()


class Litestream:
    """One ``litestream replicate`` beside this Datasette: started, synced once before Datasette
    serves, restarted if it exits, and synced then stopped when Datasette stops."""

    RESTART_DELAYS = (1, 2, 5, 10, 30)

    def __init__(self, path, config):
        self.path = os.path.abspath(path)
        self.config = config
        self.process = None
        self.restarts = 0
        self.last_exit = None
        self._stopping = threading.Event()
        self._spawned = threading.Event()
        self._started = threading.Event()
        self._start_error = None
        self._waited = True
        self._thread = threading.Thread(
            target=self._run, name="datasette-internal-db-litestream", daemon=True
        )

    def _spawn(self):
        # Left by a Litestream that was killed: the wait for the new one's socket needs it gone.
        if os.path.exists(socket_path(self.path)):
            os.unlink(socket_path(self.path))
        # Its own session: a Ctrl+C in the terminal reaches Datasette, whose shutdown then
        # stops Litestream once; a second signal would make Litestream skip its final sync.
        return subprocess.Popen(
            [
                sys.executable,
                CHILD,
                litestream_binary(),
                "replicate",
                "-no-expand-env",
                "-config",
                config_path(self.path),
            ],
            env=litestream_env(self.config),
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def _sync(self, timeout):
        """``litestream sync -wait``: everything committed so far reaches the replica. It also
        makes a new Litestream open the database now: one stopped before that (its first poll,
        about a second) exits without any final sync."""
        deadline = time.monotonic() + timeout
        sock = socket_path(self.path)
        while not os.path.exists(sock):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise ReplicationError(
                    f"litestream replicate did not start (exit code {self.process.poll()}); "
                    "its output is above"
                )
            time.sleep(0.02)
        remaining = max(1, int(deadline - time.monotonic()))
        run_litestream(
            self.config,
            "sync",
            "-wait",
            "-timeout",
            str(remaining),
            "-socket",
            sock,
            self.path,
            timeout=remaining + 5,
        )

    def _run(self):
        failures = 0
        while not self._stopping.is_set():
            try:
                self.process = self._spawn()
            except (OSError, ReplicationError) as error:
                self._start_error = error
                self._spawned.set()
                self._started.set()
                return
            self._spawned.set()
            try:
                self._sync(self.config.startup_timeout)
            except ReplicationError as error:
                if not self._started.is_set() and self._waited:
                    self._start_error = error
                    self._started.set()
                    return
                log.error("litestream could not sync %s to its replica: %s", self.path, error)
            self._started.set()
            code = self.process.wait()
            if self._stopping.is_set():
                return
            self.last_exit = code
            self.restarts += 1
            delay = self.RESTART_DELAYS[min(failures, len(self.RESTART_DELAYS) - 1)]
            failures += 1
            log.warning(
                "litestream exited (code %s) while Datasette runs: %s is not being replicated; "
                "restarting it in %d s",
                code,
                self.path,
                delay,
            )
            self._stopping.wait(delay)

    def start(self, wait=True):
        """Start Litestream; return once its first sync reached the replica (``wait``), or
        once it runs (its first sync goes on, and a failure of it is logged)."""
        self._waited = wait
        self._thread.start()
        (self._started if wait else self._spawned).wait()
        if self._start_error is not None:
            self.stop()
            raise ReplicationError(
                f"Could not replicate {self.path} to {self.config.replica}: "
                f"{self._start_error}. Check the replica URL and credentials (and litestream's "
                "output above)."
            )

    def running(self):
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout=30):
        """Sync, then one SIGTERM (through litestream_child.py): Litestream exits."""
        self._stopping.set()
        process = self.process
        if process is None or process.poll() is not None:
            return
        try:
            self._sync(timeout)
        except ReplicationError as error:
            log.warning("litestream's last sync of %s failed: %s", self.path, error)
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("litestream did not stop in %d s; killed", timeout)
            process.kill()
            process.wait()


def start(datasette, path, config, wait=True):
    supervisor = Litestream(path, config)
    supervisor.start(wait)
    _supervisors[datasette] = supervisor
    original_close = datasette.close

    def close_then_stop_litestream():
        # Litestream stops after Datasette's connections are closed, not before: while its own
        # connection is open, theirs are not the last one, so closing them neither checkpoints
        # nor resets the WAL, and the next start continues the replica instead of uploading
        # the whole file again ("wal truncated by another process"). Datasette has no hook
        # after close(), and invoke_shutdown() calls it after every plugin's shutdown hook.
        try:
            original_close()
        finally:
            stop(datasette)

    datasette.close = close_then_stop_litestream
    return supervisor


def supervisor_of(datasette):
    return _supervisors.get(datasette)


def stop(datasette):
    supervisor = _supervisors.pop(datasette, None)
    if supervisor is not None:
        supervisor.stop()


@atexit.register
def _stop_all():
    # A server stopped without ASGI lifespan shutdown (datasette --get, an embedding script):
    # Litestream still gets its final sync before the process ends.
    for supervisor in list(_supervisors.values()):
        supervisor.stop()


# ---------------------------------------------------------------- status


def daemon_status(socket_file, config):
    """``litestream list`` through the control socket: is a server replicating right now?"""
    if not os.path.exists(socket_file):
        return {"running": False}
    try:
        output = run_litestream(config, "list", "-json", "-socket", socket_file, "-timeout", "3")
        databases = json.loads(output).get("databases") or []
    except (ReplicationError, ValueError):
        return {"running": False}
    entry = databases[0] if databases else {}
    return {
        "running": True,
        "status": entry.get("status"),
        "last_sync_at": entry.get("last_sync_at"),
    }


def status(path, now=None):
    """Replication state and lag of ``path`` as the last server replicating it left it, or
    None when it was never replicated. Works with no server running."""
    found = read_litestream_config(path)
    if found is None:
        return None
    now = time.time() if now is None else now
    config = ReplicationConfig(replica=found["replica"], sync_interval=found["sync_interval"])
    local = local_files(path)
    info = {
        "replica": found["replica"],
        "sync_interval": found["sync_interval"],
        "litestream": daemon_status(found["socket"], config),
        "local_txid": newest_txid(local) or None,
        "local_written_at": clock.iso(ltx_written_at(local[-1]["path"])) if local else None,
    }
    try:
        files = replica_files(path, config)
    except ReplicationError as error:
        info["replica_error"] = str(error)
        return info
    replica_position = newest_txid(files)
    unreplicated = [entry for entry in local if entry["min_txid"] > replica_position]
    info["replica_txid"] = replica_position or None
    info["replica_written_at"] = max((entry["timestamp"] for entry in files), default=None)
    info["transactions_behind"] = max(0, newest_txid(local) - replica_position)
    info["lag_seconds"] = (
        round(max(0.0, now - ltx_written_at(unreplicated[0]["path"])), 3) if unreplicated else 0.0
    )
    return info


def render_status(info):
    if info is None:
        return ["Replication: not configured (never replicated from this machine)"]
    daemon = info["litestream"]
    if daemon["running"]:
        state = f"replicating (litestream {daemon['status']}, last sync {daemon['last_sync_at']})"
    else:
        state = "not running (no server is replicating this file now)"
    lines = [
        f"Replication: {info['replica']} every {info['sync_interval']}: {state}",
        f"  local:   transaction {info['local_txid']} written {info['local_written_at']}",
    ]
    if "replica_error" in info:
        lines.append(f"  replica: could not list it: {info['replica_error']}")
        return lines
    lines.append(
        f"  replica: transaction {info['replica_txid']} written {info['replica_written_at']}"
    )
    if info["transactions_behind"]:
        lines.append(
            f"  lag:     {info['transactions_behind']} transaction(s) not replicated yet, the "
            f"oldest written {info['lag_seconds']} s ago"
        )
    else:
        lines.append("  lag:     none (the replica has every transaction Litestream saw)")
    return lines
