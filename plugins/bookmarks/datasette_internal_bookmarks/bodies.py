"""Request bodies: a JSON object, or an HTML form's fields (read by Datasette's own parser)."""

from datasette.utils.asgi import BadRequest
from datasette_internal_db import InvalidInput, web

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def read_fields(request):
    """The body's fields: an HTML form's (first value of each name), else a JSON object."""
    if not request.headers.get("content-type", "").startswith(FORM_TYPES):
        return await web.read_json_object(request)
    try:
        form = await request.form(max_request_size=web.MAX_BODY_BYTES)
    except BadRequest as error:
        raise InvalidInput(f"Form body could not be read: {error}") from None
    return {name: form.get(name) for name in form}


async def form_fields(request, names):
    """The named fields of a posted HTML form (absent ones left out)."""
    fields = await read_fields(request)
    return {name: fields[name] for name in names if name in fields}
