"""Restore on boot: a primary whose internal file is missing gets it from the replica before
Datasette opens it; an existing file is checked against the replica instead (stale_primary.py).

The restore starts early: in ``datasette serve`` core is imported while Datasette is still
importing its own modules (seconds on a loaded machine), so ``begin_early_restore`` reads the
command line and the config file the way ``datasette serve`` will, and runs ``litestream
restore`` in the background meanwhile. The startup hook then uses that download only if it was
for the same file and replica as the config Datasette actually loaded, and restores as usual
otherwise: a command line read wrongly here costs a wasted download, never a wrong file.
"""

import atexit
import logging
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass

from .litestream import (
    config_path,
    litestream_binary,
    litestream_env,
    meta_dir,
    run_litestream,
    write_litestream_config,
)
from .replication_config import ReplicationError, parse_config
from .stale_primary import check_not_stale

log = logging.getLogger("datasette_internal_db")
CORE = "datasette-internal-db"


@dataclass
class EarlyRestore:
    path: str
    replica: str
    output: str
    process: subprocess.Popen
    started: float

    def discard(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate()
        remove_restore_output(self.output)


_early = None


def serve_command_line(argv):
    """``(--internal, [-c files], [-s pairs])`` when ``argv`` is ``datasette serve ...``."""
    program = argv[0] if argv else ""
    is_datasette = os.path.basename(program) == "datasette" or program.endswith(
        os.path.join("datasette", "__main__.py")
    )
    # --reload: the watching parent process would restore too, and never use it.
    if not is_datasette or argv[1:2] != ["serve"] or "--reload" in argv:
        return None
    internal, configs, settings = os.environ.get("DATASETTE_INTERNAL"), [], []
    words = iter(argv[2:])
    for word in words:
        name, equals, value = word.partition("=")
        if name in ("--internal", "-c", "--config") and not equals:
            value = next(words, None)
        if name == "--internal":
            internal = value
        elif name in ("-c", "--config"):
            configs.append(value)
        elif word in ("-s", "--setting"):
            settings.append((next(words, None), next(words, None)))
    return internal, configs, settings


def configured_replication(configs, settings):
    """The replication config ``datasette serve`` will load from these options (or None)."""
    from datasette.utils import (
        deep_dict_update,
        pairs_to_nested_config,
        parse_metadata,
        resolve_env_secrets,
    )

    config = {}
    for filename in configs:
        with open(filename) as handle:
            config = parse_metadata(handle.read()) or {}
    deep_dict_update(config, pairs_to_nested_config(settings))
    raw = ((config.get("plugins") or {}).get(CORE) or {}).get("replication")
    return None if raw is None else parse_config(resolve_env_secrets(raw, os.environ))


def begin_early_restore(argv=None):
    """In ``datasette serve`` with replication and a missing internal file, start restoring it
    now, while Datasette imports. Anything unexpected: no early restore."""
    global _early
    try:
        found = serve_command_line(sys.argv if argv is None else argv)
        if found is None or found[0] is None or _early is not None:
            return
        internal, configs, settings = found
        config = configured_replication(configs, settings)
        path = os.path.abspath(internal)
        if config is None or config.role != "primary" or not is_missing(path):
            return
        output = restore_output(path)
        remove_restore_output(output)
        argv = [litestream_binary(), "restore", "-if-replica-exists", "-o", output]
        process = subprocess.Popen(
            [*argv, config.replica],
            env=litestream_env(config),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    except Exception:  # an optimisation only: the startup hook restores as usual
        return
    _early = EarlyRestore(path, config.replica, output, process, time.perf_counter())


def take_early_restore(path, config):
    """The early restore if it was of ``path`` from ``config.replica`` (else it is discarded)."""
    global _early
    early, _early = _early, None
    if early is None:
        return None
    if early.path == os.path.abspath(path) and early.replica == config.replica:
        return early
    early.discard()
    return None


@atexit.register
def _discard_unused_early_restore():
    # The server stopped before its startup hook took it (a bad option, a refused start).
    if _early is not None:
        _early.discard()


def restore_output(path):
    return f"{os.path.abspath(path)}.restoring-{os.getpid()}"


def remove_restore_output(output):
    for leftover in (output, output + "-wal", output + "-shm"):
        if os.path.exists(leftover):
            os.unlink(leftover)


def is_missing(path):
    return not os.path.exists(path) or os.path.getsize(path) == 0


def restore(path, config, early=None):
    """Restore ``path`` from the replica when the file is missing; True if it was restored.

    ``early``: the download begin_early_restore started, used if it succeeded.
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
    restoring = restore_output(path)
    if early is not None and finished(early):
        started, how = early.started, " (begun while Datasette imported)"
    else:
        remove_restore_output(restoring)
        started, how = time.perf_counter(), ""
        run_litestream(
            config,
            "restore",
            "-if-replica-exists",
            "-config",
            config_path(path),
            "-o",
            restoring,
            path,
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
        "Internal database %s restored from %s in %.1f s%s",
        path,
        config.replica,
        time.perf_counter() - started,
        how,
    )
    return True


def finished(early, timeout=120):
    """Wait for the early restore; True if it succeeded (else its output is removed)."""
    try:
        _, errors = early.process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        early.discard()
        return False
    if early.process.returncode == 0:
        return True
    log.warning("The early restore failed, restoring again: %s", errors.strip()[-500:])
    remove_restore_output(early.output)
    return False


def prepare_primary(path, config):
    """Before Datasette opens the file: restore it when missing, else refuse a stale file.
    True when it was restored."""
    litestream_binary()
    early = take_early_restore(path, config)
    restored = False
    if is_missing(path):
        restored = restore(path, config, early)
    elif early is not None:
        early.discard()
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
