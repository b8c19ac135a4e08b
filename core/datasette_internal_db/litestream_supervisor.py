"""The ``litestream replicate`` process core runs beside Datasette: started, synced once before
Datasette serves, restarted if it exits, and synced then stopped when Datasette stops."""

import atexit
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import weakref

from .litestream import config_path, litestream_binary, litestream_env, run_litestream, socket_path
from .replication_config import ReplicationError

log = logging.getLogger("datasette_internal_db")
CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "litestream_child.py")

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
