"""Request helpers shared by the plugin's views."""

from urllib.parse import parse_qsl

from datasette_internal_db import InvalidInput
from datasette_internal_db.web import MAX_BODY_BYTES, read_json_object


def actor_id(request):
    """The signed-in actor's id as text, or None (an actor without an id is not signed in)."""
    actor = request.actor
    value = actor.get("id") if isinstance(actor, dict) else None
    return None if value in (None, "") else str(value)


async def read_input(request):
    """A JSON object body, or an HTML form's fields (last value of each name wins)."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        body = await request.post_body()
        if len(body) > MAX_BODY_BYTES:
            raise InvalidInput(f"Request body is larger than {MAX_BODY_BYTES} bytes")
        try:
            return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            raise InvalidInput("Form body is not UTF-8") from None
    return await read_json_object(request)


async def render(datasette, request, template, context):
    return await datasette.render_template(template, context, request=request)
