"""The hooks through which other plugins (an auth plugin, a directory) list the actors that
@mention autocomplete offers and give their email addresses. Documented in the README."""

from pluggy import HookspecMarker

hookspec = HookspecMarker("datasette")


@hookspec
def comments_actors(datasette, prefix):
    """Actors whose id or name starts with ``prefix`` (case-insensitive; ``""`` for any), for
    @mention autocomplete: a list of actor dicts with an ``"id"`` and, if known, a ``"name"``,
    or an awaitable of one. Called only for signed-in actors; a dozen results are plenty, and
    the plugin filters and limits them again."""


@hookspec
def comments_actor_emails(datasette, actor_ids):
    """Email addresses for actor ids that have no ``"email"`` in their actor dict: a dict
    ``{actor_id: address}`` (leave out the ones you do not know), or an awaitable of one.
    Called by the email sender just before it sends; an actor with no address gets in-app
    notifications only."""
