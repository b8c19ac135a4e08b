"""Standard Webhooks v1 signatures (outgoing and incoming) and GitHub's X-Hub-Signature-256."""

import base64
import binascii
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
SECRET_BYTES = 32
TIMESTAMP_TOLERANCE_SECONDS = 5 * 60


class InvalidSecret(ValueError):
    pass


def new_secret():
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret):
    """The raw HMAC key of a ``whsec_`` secret (24 to 64 random bytes, base64)."""
    if not isinstance(secret, str) or not secret.startswith(SECRET_PREFIX):
        raise InvalidSecret("secret must start with whsec_")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except ValueError:
        raise InvalidSecret("secret must be whsec_ followed by base64") from None
    if not 24 <= len(key) <= 64:
        raise InvalidSecret("secret must encode 24 to 64 bytes")
    return key


def prepared_key(key):
    """An HMAC-SHA256 keyed with the raw ``key``, to copy for each signature: the key setup
    (half the cost of signing a small body) is done once."""
    return hmac.new(key, digestmod=hashlib.sha256)


def signature(key, message_id, timestamp, body):
    """``v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` for a raw key (or one from
    ``prepared_key``) and a bytes body."""
    mac = key.copy() if isinstance(key, hmac.HMAC) else prepared_key(key)
    mac.update(b"%s.%d.%s" % (message_id.encode(), timestamp, body))
    return "v1," + binascii.b2a_base64(mac.digest(), newline=False).decode()


def signature_header(keys, message_id, timestamp, body):
    """Space-separated signatures, one per key (two while a rotated key is in its grace period)."""
    return " ".join(signature(key, message_id, timestamp, body) for key in keys)


def verify_standard(secret, headers, body, now):
    """True when ``headers`` carry a valid, timely Standard Webhooks signature of ``body``."""
    message_id = headers.get("webhook-id")
    timestamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not message_id or not timestamp or not signatures:
        return False
    try:
        sent_at = int(timestamp)
    except ValueError:
        return False
    if abs(now - sent_at) > TIMESTAMP_TOLERANCE_SECONDS:
        return False
    expected = signature(secret_key(secret), message_id, sent_at, body)
    matched = False
    for candidate in signatures.split(" "):
        # Compare every candidate so the time taken does not depend on which one matched.
        matched |= hmac.compare_digest(candidate.encode(), expected.encode())
    return matched


def verify_github(secret, headers, body):
    given = headers.get("x-hub-signature-256") or ""
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(given.encode(), expected.encode())
