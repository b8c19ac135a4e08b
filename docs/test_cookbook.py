"""The cookbook shows live code: every Python or HTML block names its source file and is an
excerpt of it, and the commands that turn examples/hello into a new plugin work.

A block is preceded by ``<!-- source: path/from/repo/root.py -->``. Its lines, blank lines aside,
must be consecutive lines of that file with the same indentation relative to each other: a
whole function, or a run of lines at one level, never pieces stitched together. Two places are
two blocks.
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
BLOCK = re.compile(r"<!-- source: (?P<source>\S+) -->\s*```(?:python|html)\n(?P<code>.*?)```", re.S)
RENAMES = re.compile(r"<!-- renames: tested -->\s*```bash\n(?P<script>.*?)```", re.S)
PAGES = sorted(p for p in (ROOT / "docs" / "cookbook").glob("*.md") if p.stem != "README")


def blocks(page):
    text = page.read_text()
    found = list(BLOCK.finditer(text))
    code_blocks = text.count("```python") + text.count("```html")
    assert len(found) == code_blocks, f"{page.name}: a code block lacks its source"
    return found


def non_blank(text):
    return [line.rstrip() for line in text.splitlines() if line.strip()]


def indent(line):
    return len(line) - len(line.lstrip())


def matched_lines(snippet, source, start):
    """How many lines of ``snippet`` match ``source`` from ``start``, shifted right alike."""
    shift = indent(source[start]) - indent(snippet[0])
    if shift < 0:
        return 0
    count = 0
    for snippet_line, source_line in zip(snippet, source[start:], strict=False):
        if source_line != " " * shift + snippet_line:
            break
        count += 1
    return count


def first_mismatch(snippet, source):
    """None when ``snippet`` is an excerpt of ``source``, else the first line that differs."""
    best = max((matched_lines(snippet, source, i) for i in range(len(source))), default=0)
    return None if best == len(snippet) else snippet[best]


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_cookbook_code_is_an_excerpt_of_live_code(page):
    matches = blocks(page)
    assert matches, f"{page.name} shows no code"
    for match in matches:
        source = ROOT / match["source"]
        assert source.exists(), f"{page.name}: {match['source']} does not exist"
        mismatch = first_mismatch(non_blank(match["code"]), non_blank(source.read_text()))
        assert mismatch is None, f"{page.name}: {mismatch!r} does not follow in {match['source']}"


def test_excerpts_cannot_be_stitched():
    source = non_blank("def f():\n    a = 1\n    if a:\n        b = 2\n    return a\n")
    assert first_mismatch(["a = 1", "if a:", "    b = 2"], source) is None
    assert first_mismatch(["def f():", "    a = 1", "    return a"], source) == "    return a"
    assert first_mismatch(["if a:", "b = 2"], source) == "b = 2"


def test_the_three_renames_leave_nothing_of_the_example(tmp_path):
    (script,) = RENAMES.findall((ROOT / "docs/cookbook/start-a-plugin.md").read_text())
    copy = tmp_path / "datasette-myplugin"
    leftovers = shutil.ignore_patterns("__pycache__", "*.egg-info", ".pytest_cache")
    shutil.copytree(ROOT / "examples" / "hello", copy, ignore=leftovers)
    subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=copy, check=True)
    files = [p for p in copy.rglob("*") if p.is_file()]
    assert [p for p in copy.rglob("*hello*")] == []
    assert [p.name for p in files if "hello" in p.read_text().lower()] == []
    assert (copy / "datasette_myplugin/templates/datasette_myplugin_greetings.html").exists()
    assert 'name = "datasette-myplugin"' in (copy / "pyproject.toml").read_text()
    for path in copy.rglob("*.py"):
        compile(path.read_text(), str(path), "exec")


def test_every_pattern_has_a_page():
    names = {p.stem for p in PAGES}
    assert {
        "start-a-plugin",
        "routes-and-pages",
        "migrations",
        "settings",
        "cache",
        "audit",
        "jobs",
        "secrets",
        "testing",
    } <= names
