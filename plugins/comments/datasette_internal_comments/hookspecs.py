"""The hook through which other plugins (an auth plugin, a directory) list the actors that
@mention autocomplete offers. Documented for plugin authors in the README."""

from pluggy import HookspecMarker

hookspec = HookspecMarker("datasette")


@hookspec
def comments_actors(datasette, prefix):
    """Actors whose id or name starts with ``prefix`` (case-insensitive; ``""`` for any), for
    @mention autocomplete: a list of actor dicts with an ``"id"`` and, if known, a ``"name"``,
    or an awaitable of one. Called only for signed-in actors; a dozen results are plenty, and
    the plugin filters and limits them again."""
