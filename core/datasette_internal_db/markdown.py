"""One Markdown policy for everything people write: markdown-it-py with raw HTML off, then nh3.

No images, anywhere: a remote image tells its host who read the text and when (a tracking
pixel), even in a note shared with other people. Links are relative or ``http``, ``https`` or
``mailto`` (nh3 alone would keep ``ftp:``, ``tel:``, ``ssh:``, ``webcal:``... which hand a click
to whatever program the reader's system picks), and get ``rel="nofollow noopener"``.
Store ``MARKDOWN_VERSION`` beside the HTML you keep, and render again rows whose version differs.
"""

import functools

import nh3

# Bump when render_markdown would give different HTML for the same text.
MARKDOWN_VERSION = 3
TAGS = nh3.ALLOWED_TAGS - {"img"}
LINK_REL = "nofollow noopener"
URL_SCHEMES = {"http", "https", "mailto"}


@functools.cache
def markdown_parser():
    # Imported on first use, not at startup: markdown-it-py's import was 0.15-0.4 s of every
    # Datasette start here (and of the RTO after a restore).
    from markdown_it import MarkdownIt

    return MarkdownIt("js-default")


def render_markdown(text):
    """Safe HTML for Markdown ``text`` (``None`` and ``""`` give ``""``)."""
    return nh3.clean(
        markdown_parser().render(text or ""), tags=TAGS, link_rel=LINK_REL, url_schemes=URL_SCHEMES
    )
