"""Markdown notes to safe HTML: markdown-it-py with raw HTML off, then nh3's allow-list."""

import nh3
from markdown_it import MarkdownIt

markdown = MarkdownIt("js-default")


def render(note):
    return nh3.clean(markdown.render(note or ""))
