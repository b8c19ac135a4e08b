class InvalidInput(ValueError):
    """Bad input to a core service; routes turn it into a 400 JSON error."""


class BodyTooLarge(InvalidInput):
    """A request body past its size limit. A 400 wherever InvalidInput is caught; a route
    that wants to say 413 catches this first."""


class Conflict(InvalidInput):
    """A write the target's current state refuses (it was deleted, say): route() answers 409."""
