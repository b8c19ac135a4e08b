"""Events fired through ``datasette.track_event`` (for the webhooks plugin and others).

They carry ids and the target, never comment text: a listener that forwards events elsewhere
does not have to know who may read the comment.
"""

from dataclasses import dataclass

from datasette.events import Event


@dataclass
class CommentEvent(Event):
    thread_id: int
    comment_id: int | None
    database: str
    table: str | None
    column: str | None
    row: str | None
    target_type: str


@dataclass
class CommentAddedEvent(CommentEvent):
    name = "comment-added"


@dataclass
class CommentEditedEvent(CommentEvent):
    name = "comment-edited"


@dataclass
class CommentDeletedEvent(CommentEvent):
    name = "comment-deleted"


@dataclass
class ThreadResolvedEvent(CommentEvent):
    name = "thread-resolved"


@dataclass
class ThreadReopenedEvent(CommentEvent):
    name = "thread-reopened"


EVENTS = [
    CommentAddedEvent,
    CommentEditedEvent,
    CommentDeletedEvent,
    ThreadResolvedEvent,
    ThreadReopenedEvent,
]


def event_for(event_class, actor, thread, comment_id=None):
    return event_class(
        actor=actor,
        thread_id=thread["thread_id"],
        comment_id=comment_id,
        database=thread["database_name"],
        table=thread["table_name"] or None,
        column=thread["column_name"] or None,
        row=thread["row_key"] or None,
        target_type=thread["target_type"],
    )
