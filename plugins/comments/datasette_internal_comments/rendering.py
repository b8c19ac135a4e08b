"""Comment bodies: validation, @mentions, and HTML by core's one Markdown policy."""

import functools
import re
from typing import NamedTuple

from datasette_internal_db import MARKDOWN_VERSION, InvalidInput, render_markdown
from markupsafe import Markup

MAX_BODY_CHARS = 10_000
MAX_MENTIONS = 20

# Bump when highlight_mentions would change the HTML of the same text. Stored HTML records
# both versions in one number, so a change of core's policy or of this step re-renders it.
MENTIONS_VERSION = 2
RENDER_VERSION = MARKDOWN_VERSION * 1000 + MENTIONS_VERSION

# GitHub's eight reactions; the API and the database use the names.
REACTIONS = {
    "+1": "\N{THUMBS UP SIGN}",
    "-1": "\N{THUMBS DOWN SIGN}",
    "laugh": "\N{SMILING FACE WITH OPEN MOUTH AND SMILING EYES}",
    "hooray": "\N{PARTY POPPER}",
    "confused": "\N{CONFUSED FACE}",
    "heart": "\N{HEAVY BLACK HEART}\N{VARIATION SELECTOR-16}",
    "rocket": "\N{ROCKET}",
    "eyes": "\N{EYES}",
}
REACTION_LABELS = {
    "+1": "Thumbs up",
    "-1": "Thumbs down",
    "laugh": "Laugh",
    "hooray": "Hooray",
    "confused": "Confused",
    "heart": "Heart",
    "rocket": "Rocket",
    "eyes": "Eyes",
}

# An id is letters, digits, "_", ".", "-": nothing that could open markup where it is inserted.
MENTION = re.compile(r"(?<![\w@.])@([A-Za-z0-9][A-Za-z0-9_.\-]{0,63})")
TAG_OR_TEXT = re.compile(r"(<[^>]*>)")
NO_MENTIONS_INSIDE = {"a", "code", "pre"}


def clean_body(body):
    """The body stripped, or InvalidInput when it is not a non-empty string within the limit."""
    if not isinstance(body, str):
        raise InvalidInput("'body' must be a string")
    body = body.strip()
    if not body:
        raise InvalidInput("'body' must not be empty")
    if len(body) > MAX_BODY_CHARS:
        raise InvalidInput(f"'body' is longer than {MAX_BODY_CHARS} characters")
    return body


def mentions_in(body):
    """Actor ids mentioned as @id, in order of first appearance, at most MAX_MENTIONS."""
    found = dict.fromkeys(match.rstrip(".-") for match in MENTION.findall(body))
    return list(found)[:MAX_MENTIONS]


def highlight_mentions(html):
    """``@id`` in the text of sanitized HTML wrapped in a span; never inside links or code."""
    parts, open_tags = [], []
    for part in TAG_OR_TEXT.split(html):
        if part.startswith("<"):
            name = re.match(r"</?\s*([a-zA-Z0-9]+)", part)
            if name and name.group(1).lower() in NO_MENTIONS_INSIDE:
                if part.startswith("</"):
                    if open_tags:
                        open_tags.pop()
                else:
                    open_tags.append(name.group(1).lower())
            parts.append(part)
        elif open_tags:
            parts.append(part)
        else:
            parts.append(MENTION.sub(r'<span class="comment-mention">@\1</span>', part))
    return "".join(parts)


# Threads are read far more often than written: the same bodies render again and again. A pure
# function of the text, so nothing can go stale; 1,024 entries stay under ~16 MB at the limit.
@functools.lru_cache(maxsize=1024)
def render(body):
    """Markdown → HTML by core's policy (no raw HTML, no images, safe links), mentions marked."""
    # render_markdown's output is sanitized, and a mention adds only a span around [\w.-] text.
    return Markup(highlight_mentions(render_markdown(body)))  # noqa: S704


class Body(NamedTuple):
    """A comment body as it is stored: the text, its HTML and the actors it mentions."""

    text: str
    html: str
    html_version: int
    mentions: list


def prepare(value):
    """A valid body from user input, rendered once here so reads need not render it again."""
    text = clean_body(value)
    return Body(text, str(render(text)), RENDER_VERSION, mentions_in(text))


def comment_html(comment):
    """The comment's HTML: as stored when the current renderer made it, else rendered now."""
    if comment["html_version"] == RENDER_VERSION:
        # Stored by prepare(): the output of render(), sanitized before it was written.
        return Markup(comment["html"])  # noqa: S704
    return render(comment["body"])
