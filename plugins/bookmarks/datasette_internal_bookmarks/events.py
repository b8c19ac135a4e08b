"""The plugin's own Datasette events, tracked through ``datasette.track_event``."""

from dataclasses import dataclass

from datasette.events import Event


@dataclass
class BookmarkCreatedEvent(Event):
    name = "bookmark-created"
    bookmark_id: int
    url: str


@dataclass
class BookmarkDeletedEvent(Event):
    name = "bookmark-deleted"
    bookmark_id: int


@dataclass
class ShortLinkCreatedEvent(Event):
    name = "short-link-created"
    code: str
    target: str


@dataclass
class ShortLinkDeletedEvent(Event):
    name = "short-link-deleted"
    code: str


EVENTS = [BookmarkCreatedEvent, BookmarkDeletedEvent, ShortLinkCreatedEvent, ShortLinkDeletedEvent]
