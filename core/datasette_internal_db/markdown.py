"""One Markdown policy for everything people write: markdown-it-py with raw HTML off, then nh3.

No images, anywhere: a remote image tells its host who read the text and when (a tracking
pixel), even in a note shared with other people. Links get ``rel="nofollow noopener"``.
Store ``MARKDOWN_VERSION`` beside the HTML you keep, and render again rows whose version differs.
"""

import nh3
from markdown_it import MarkdownIt

# Bump when render_markdown would give different HTML for the same text.
MARKDOWN_VERSION = 2
TAGS = nh3.ALLOWED_TAGS - {"img"}
LINK_REL = "nofollow noopener"

_markdown = MarkdownIt("js-default")


def render_markdown(text):
    """Safe HTML for Markdown ``text`` (``None`` and ``""`` give ``""``)."""
    return nh3.clean(_markdown.render(text or ""), tags=TAGS, link_rel=LINK_REL)
