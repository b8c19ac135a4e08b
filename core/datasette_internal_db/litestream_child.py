"""Run ``litestream replicate`` as the child of this small process, which stops it with exactly
one SIGTERM when Datasette stops it or when Datasette's process is gone (even SIGKILLed).

Run as a script by litestream_supervisor.Litestream:
``python litestream_child.py litestream replicate ...``.
Why not the kernel's parent-death signal on Litestream itself: Linux sends it once per thread
of the child, and Litestream (a Go program, many threads) takes a second signal as "skip the
final sync", which then loses the last second of writes. Why it polls: ``getppid()`` changes
when the parent process is gone, on every POSIX system.
"""

import os
import signal
import subprocess
import sys

POLL_SECONDS = 0.1


def main():
    parent = os.getppid()
    child = subprocess.Popen(sys.argv[1:])
    stopping = False

    def stop(*_):
        nonlocal stopping
        if not stopping:
            stopping = True
            child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while child.poll() is None:
        if os.getppid() != parent:
            stop()
        try:
            child.wait(POLL_SECONDS)
        except subprocess.TimeoutExpired:
            pass
    code = child.returncode
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
