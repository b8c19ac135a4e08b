"""core's test helpers that other packages' tests rely on."""

import os
import socket
from collections import deque

import pytest
from datasette_internal_db import testing


def executable(path):
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return str(path)


def test_chromium_path_from_the_environment_comes_first(tmp_path, monkeypatch):
    chosen = executable(tmp_path / "my-chromium")
    monkeypatch.setenv("CHROMIUM_PATH", chosen)
    assert testing.find_chromium() == chosen


def test_a_chromium_playwright_installed_is_found(tmp_path, monkeypatch):
    monkeypatch.delenv("CHROMIUM_PATH", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(os, "access", lambda path, mode: path.startswith(str(tmp_path)))
    browser = tmp_path / ".cache/ms-playwright/chromium-1187/chrome-linux/chrome"
    browser.parent.mkdir(parents=True)
    expected = executable(browser)
    assert testing.find_chromium() == expected


def test_no_chromium_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(testing, "find_chromium", lambda: None)
    with pytest.raises(RuntimeError, match="apt-get install chromium"):
        testing.launch_chromium(playwright=None)


def test_free_port_keeps_each_pytest_xdist_worker_to_its_own_ports(monkeypatch):
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "3")
    for worker in range(3):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", f"gw{worker}")
        ports = [testing.free_port() for _ in range(20)]
        assert len(set(ports)) == 20, "a port is not given twice in a row"
        assert {port % 3 for port in ports} == {(testing.PORTS.start + worker) % 3}
        for port in ports:
            assert port in testing.PORTS
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", port))


def test_free_port_skips_a_port_in_use(monkeypatch):
    monkeypatch.delenv("PYTEST_XDIST_WORKER_COUNT", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    monkeypatch.setattr(testing, "_ports_given", deque(maxlen=256))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        in_use = taken.getsockname()[1]
        monkeypatch.setattr(testing, "PORTS", range(in_use, in_use + 2))
        assert testing.free_port() == in_use + 1
