"""The README's first command: the demo starts, signs people in, delivers webhooks to its
receiver and comment emails to its mail sink, stops cleanly and keeps its data for the next run."""

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from datasette_internal_db.testing import free_port

ROOT = Path(__file__).parent.parent


def start_demo(demo_dir, port, receiver_port, smtp_port):
    env = dict(
        os.environ,
        DEMO_DIR=str(demo_dir),
        DEMO_PORT=str(port),
        DEMO_RECEIVER_PORT=str(receiver_port),
        DEMO_SMTP_PORT=str(smtp_port),
    )
    env.pop("DATASETTE_LOAD_PLUGINS", None)
    log = open(demo_dir / "demo.log", "a")
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "demo.py")], env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(url + "/-/versions.json")
            return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.terminate()
    raise AssertionError((demo_dir / "demo.log").read_text())


def wait_for_line(path, text):
    for _ in range(100):
        if text in path.read_text():
            return
        time.sleep(0.1)
    raise AssertionError(f"{text!r} not in {path.read_text()}")


def root_token(demo_dir):
    command = ["create-token", "root", "--secret", "demo-secret-change-me"]
    result = subprocess.run(
        [sys.executable, "-m", "datasette", *command], capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def test_demo_end_to_end_and_its_data_survives_a_restart(tmp_path):
    port, receiver_port, smtp_port = free_port(), free_port(), free_port()
    process, url = start_demo(tmp_path, port, receiver_port, smtp_port)
    log = tmp_path / "demo.log"
    try:
        home = httpx.get(url + "/")
        assert "<h1>datasette-internal demo</h1>" in home.text
        signed_in = httpx.get(url + "/-/demo/sign-in/alice")
        assert signed_in.status_code == 302 and "ds_actor" in signed_in.headers["set-cookie"]
        inserted = httpx.post(
            url + "/sample/species/-/insert",
            json={"row": {"common_name": "Test heron"}},
            headers={"Authorization": f"Bearer {root_token(tmp_path)}"},
        )
        assert inserted.status_code == 201, inserted.text
        wait_for_line(log, "[receiver] insert-rows signature ok")
        mention = httpx.post(
            url + "/-/comments/api/threads",
            json={"database": "sample", "table": "species", "row": "1", "body": "Look, @bob"},
            cookies={"ds_actor": signed_in.cookies["ds_actor"]},
        )
        assert mention.status_code == 200, mention.text
        wait_for_line(log, "[mail] to bob@example.invalid: Alice (demo) mentioned you on row")
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert subprocess.run(["pgrep", "-f", f"demo_receiver.py {receiver_port}"]).returncode == 1
    assert subprocess.run(["pgrep", "-f", f"demo_mail_sink.py {smtp_port}"]).returncode == 1
    assert log.read_text().count("Built ") == 1

    process, url = start_demo(tmp_path, port, receiver_port, smtp_port)
    try:
        rows = httpx.get(url + "/sample/species.json?common_name=Test+heron&_shape=array").json()
        assert [row["common_name"] for row in rows] == ["Test heron"]
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert log.read_text().count("Built ") == 1
