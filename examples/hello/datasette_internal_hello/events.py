"""The event fired when someone greets: other plugins (webhooks) can subscribe to it by name.
It carries the greeting's id, not its text."""

from dataclasses import dataclass

from datasette.events import Event


@dataclass
class GreetingAddedEvent(Event):
    name = "hello-greeting-added"
    greeting_id: int


EVENTS = [GreetingAddedEvent]
