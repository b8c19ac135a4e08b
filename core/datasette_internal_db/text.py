"""User text made safe to search with: control characters, FTS5 queries."""

import re

# C0, DEL and C1: never wanted in a name, a path or a search, and NUL ends SQLite's C strings.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def fts_query(text):
    """An FTS5 MATCH expression for rows holding every word of ``text``; None when it has none.

    Any string gives a valid query: each word is quoted, so FTS syntax in it (AND, OR, NEAR,
    ``*``, ``^``, ``:``, parentheses, quotes) is matched literally; control characters separate
    words (a NUL would end FTS5's quoted string early); lone surrogates become "?".
    """
    text = text.encode("utf-8", "replace").decode("utf-8")
    words = CONTROL_CHARACTERS.sub(" ", text).split()
    if not words:
        return None
    return " ".join('"' + word.replace('"', '""') + '"' for word in words)
