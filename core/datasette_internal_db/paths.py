"""User-given URLs made into safe local paths: the one check for every redirect target.

Pure string work, no I/O. A path that passes ``local_path`` can go into a ``Location`` header
on this Datasette and nowhere else: it starts with a single ``/``, holds no backslash, no
control character and no ``.``/``..`` segment, in any of its percent-decoded forms (so
``/%2F%2Fevil.example`` and ``/%5Cevil.example`` are refused like ``//evil.example``), and it
is plain printable ASCII (everything else is percent-encoded).
"""

from urllib.parse import quote, unquote, urlsplit

from .errors import InvalidInput
from .text import CONTROL_CHARACTERS

MAX_PATH_LENGTH = 4096
# Characters kept as they are; everything else (space, non-ASCII, quotes, <>) is percent-encoded.
URL_SAFE = "/?#[]@!$&'()*+,;=:-._~%"
MAX_DECODE_ROUNDS = 4


class UnsafePath(InvalidInput):
    """A value that is not a safe local path (a 400 wherever InvalidInput is caught)."""


def local_path(value, base_url="/", name="path"):
    """``value`` as a canonical local path without ``base_url``, or raise UnsafePath.

    ``name`` is the field the messages talk about (``'next'``, ``'target'``...).
    """
    if not isinstance(value, str) or not value.strip():
        raise UnsafePath(f"'{name}' must be a non-empty string")
    if len(value) > MAX_PATH_LENGTH:
        raise UnsafePath(f"'{name}' is longer than {MAX_PATH_LENGTH} characters")
    check_decoded_forms(value, name)
    canonical = quote(value, safe=URL_SAFE)
    if base_url != "/" and (canonical + "/").startswith(base_url):
        canonical = "/" + canonical[len(base_url) :]
        check_decoded_forms(canonical, name)
    return canonical


def check_decoded_forms(value, name="path"):
    """Raise UnsafePath unless ``value`` and each of its percent-decoded forms is a local path."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise UnsafePath(f"'{name}' holds invalid Unicode (a lone surrogate)") from None
    for layer in decoded_forms(value, name):
        _check_layer(layer, name)


def decoded_forms(value, name="path"):
    """``value``, then each form percent-decoding it once more gives, until one decodes to
    itself: what a proxy or server that decodes paths might act on. UnsafePath past
    MAX_DECODE_ROUNDS forms."""
    layer = value
    for _ in range(MAX_DECODE_ROUNDS):
        yield layer
        decoded = unquote(layer)
        if decoded == layer:
            return
        layer = decoded
    raise UnsafePath(f"'{name}' is percent-encoded too many times")


def location_for(path, base_url="/", name="path"):
    """The ``Location`` value for a stored local path: re-checked, never trusted from storage."""
    check_decoded_forms(path, name)
    if path != quote(path, safe=URL_SAFE):
        raise UnsafePath(f"The stored '{name}' is not in canonical form")
    return base_url.rstrip("/") + path if base_url != "/" else path


def _check_layer(layer, name):
    if CONTROL_CHARACTERS.search(layer):
        raise UnsafePath(f"'{name}' contains control characters (CR, LF, tab...)")
    if "\\" in layer:
        raise UnsafePath(f"'{name}' contains a backslash")
    if not layer.startswith("/"):
        raise UnsafePath(f"'{name}' must be a local path starting with /")
    if layer.startswith("//"):
        raise UnsafePath(f"'{name}' must not start with // (that names another host)")
    parts = urlsplit(layer)
    if parts.scheme or parts.netloc:
        raise UnsafePath(f"'{name}' must be a local path, not a URL with a scheme or host")
    if any(segment in (".", "..") for segment in parts.path.split("/")):
        raise UnsafePath(f"'{name}' must not contain . or .. path segments")
