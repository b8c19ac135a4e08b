"""`nox -s demo`: every plugin on a sample database, a webhook receiver, a mail sink that prints
the comments plugin's emails, and sign-in links.

Data lives in demo/ (or $DEMO_DIR) and is kept between runs: sample.db is built once (pass
--rebuild to build it again and start with a fresh internal.db). DEMO_PORT (default 8001) and
DEMO_RECEIVER_PORT (default 8002) and DEMO_SMTP_PORT (default 8025) choose the ports.
"""

import base64
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).parent.parent
DEMO = Path(os.environ.get("DEMO_DIR", ROOT / "demo"))


def webhook_secret():
    """Made on the first run and kept in demo/, so a restarted demo verifies with the same key."""
    path = DEMO / "webhook-secret"
    if not path.exists():
        path.write_text("whsec_" + base64.b64encode(secrets.token_bytes(24)).decode())
    return path.read_text().strip()


def main(args):
    # Stopped by SIGTERM too (nox, timeout): leave no receiver or server behind.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    port = os.environ.get("DEMO_PORT", "8001")
    receiver_port = os.environ.get("DEMO_RECEIVER_PORT", "8002")
    smtp_port = os.environ.get("DEMO_SMTP_PORT", "8025")
    DEMO.mkdir(exist_ok=True)
    sample, internal = DEMO / "sample.db", DEMO / "internal.db"
    if "--rebuild" in args:
        for path in [*DEMO.glob("*.db*"), DEMO / "webhook-secret"]:
            path.unlink(missing_ok=True)
    if not sample.exists():
        subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "make_sample_db.py"), str(sample)], check=True
        )
    secret = webhook_secret()
    env = dict(
        os.environ,
        DATASETTE_SECRET=os.environ.get("DATASETTE_SECRET", "demo-secret-change-me"),
        DEMO_RECEIVER_URL=f"http://127.0.0.1:{receiver_port}/hook",
        DEMO_WEBHOOK_SECRET=secret,
        DEMO_SMTP_PORT=smtp_port,
        DEMO_BASE_URL=f"http://127.0.0.1:{port}/",
    )
    receiver = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "demo_receiver.py"), receiver_port, secret]
    )
    mail_sink = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "demo_mail_sink.py"), smtp_port]
    )
    server = subprocess.Popen(
        [
            sys.executable, "-m", "datasette", "serve", str(sample),
            "--internal", str(internal), "--root", "-p", port,
            "-c", str(ROOT / "scripts" / "demo.yaml"),
            "-m", str(ROOT / "scripts" / "demo-metadata.yaml"),
            "--plugins-dir", str(ROOT / "scripts" / "demo_plugins"),
        ],
        env=env,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                httpx.get(url + "/-/versions.json")
                break
            except httpx.TransportError:
                time.sleep(0.1)
        print(
            f"\nDemo on {url}/ — data kept in demo/ (nox -s demo -- --rebuild starts afresh)\n"
            "  Sign in as root with the link Datasette printed above, or as a demo person:\n"
            f"    {url}/-/demo/sign-in/alice\n"
            f"    {url}/-/demo/sign-in/bob\n"
            "  Webhooks: insert a row (root, table menu → Insert row) and watch [receiver] lines.\n"
            "  Email: as alice, comment on a row mentioning @bob; bob's email shows as [mail]\n"
            f"  lines (outbox: {url}/-/comments/email/outbox as root).\n"
            "  Stop with Ctrl+C.\n",
            flush=True,
        )
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        for process in (server, receiver, mail_sink):
            process.terminate()
            process.wait()


if __name__ == "__main__":
    main(sys.argv[1:])
