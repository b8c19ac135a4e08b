"""core's test helpers that other packages' tests rely on."""

import os

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
