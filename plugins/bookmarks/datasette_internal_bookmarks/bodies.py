"""The fields of a posted HTML form (core's ``web.read_fields``, which also takes JSON)."""

from datasette_internal_db.web import read_fields


async def form_fields(request, names):
    """The named fields of a posted HTML form (absent ones left out)."""
    fields = await read_fields(request)
    return {name: fields[name] for name in names if name in fields}
