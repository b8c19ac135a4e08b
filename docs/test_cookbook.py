"""The cookbook shows live code: every Python or HTML block names its source file and matches it.

A block is preceded by ``<!-- source: path/from/repo/root.py -->``. Each of its lines must appear
in that file in the same order (indentation ignored); a line ``...`` skips any number of lines.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
BLOCK = re.compile(r"<!-- source: (?P<source>\S+) -->\s*```(?:python|html)\n(?P<code>.*?)```", re.S)
PAGES = sorted(p for p in (ROOT / "docs" / "cookbook").glob("*.md") if p.stem != "README")


def blocks(page):
    text = page.read_text()
    found = list(BLOCK.finditer(text))
    code_blocks = text.count("```python") + text.count("```html")
    assert len(found) == code_blocks, f"{page.name}: a code block lacks its source"
    return found


def appears_in_order(snippet_lines, source_lines):
    position = 0
    for line in snippet_lines:
        if line == "...":
            continue
        try:
            position = source_lines.index(line, position) + 1
        except ValueError:
            return line
    return None


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_cookbook_code_is_taken_from_live_code(page):
    matches = blocks(page)
    assert matches, f"{page.name} shows no code"
    for match in matches:
        source = ROOT / match["source"]
        assert source.exists(), f"{page.name}: {match['source']} does not exist"
        source_lines = [line.strip() for line in source.read_text().splitlines()]
        snippet = [line.strip() for line in match["code"].splitlines() if line.strip()]
        missing = appears_in_order(snippet, source_lines)
        assert missing is None, f"{page.name}: {missing!r} is not in {match['source']}"


def test_every_pattern_has_a_page():
    names = {p.stem for p in PAGES}
    assert {"settings", "cache", "audit", "jobs", "secrets", "migrations", "testing"} <= names
