"""Secrets: tokens stored only as SHA-256, and readable secrets encrypted at rest."""

import base64
import hashlib
import hmac
import secrets as random

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from . import clock
from .database import get_internal_db
from .errors import InvalidInput

PLUGIN = "datasette-internal-db"
KEY_CHECK_PLAINTEXT = b"datasette-internal-db key check"
MAX_SECRET_BYTES = 16 * 1024
HOW_TO_CONFIGURE = (
    "Set a stable key: start Datasette with DATASETTE_SECRET (or --secret) set to the same value "
    "on every start, or configure plugins.datasette-internal-db.encryption_keys in datasette.yaml "
    "(a list, newest first; keep the old key in the list while rotating)."
)


class SecretsUnreadable(RuntimeError):
    pass


# --- high-entropy tokens -------------------------------------------------------------------


def new_token(prefix=""):
    """A random token to show once; store only ``hash_token(token)``."""
    return prefix + random.token_urlsafe(32)


def hash_token(token):
    return hashlib.sha256(token.encode()).hexdigest()


def verify_token(token, stored_hash):
    if not isinstance(token, str) or not isinstance(stored_hash, str):
        return False
    return hmac.compare_digest(hash_token(token), stored_hash)


# --- encryption at rest ----------------------------------------------------------------------


def _fernet_key(material):
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"datasette-internal-db secrets"
    ).derive(material.encode())
    return base64.urlsafe_b64encode(derived)


def key_materials(datasette):
    """Configured keys (newest first), else Datasette's own secret."""
    config = datasette.plugin_config(PLUGIN) or {}
    keys = config.get("encryption_keys") or []
    if isinstance(keys, str):
        keys = [keys]
    return list(keys) or [datasette._secret]


def cipher(datasette):
    return MultiFernet([Fernet(_fernet_key(material)) for material in key_materials(datasette)])


def encrypt(datasette, plaintext):
    """Encrypt text with the newest key; store the returned string in your own table if you like."""
    if not isinstance(plaintext, str):
        raise InvalidInput("Secrets are strings")
    if len(plaintext.encode()) > MAX_SECRET_BYTES:
        raise InvalidInput(f"Secrets are at most {MAX_SECRET_BYTES} bytes")
    return cipher(datasette).encrypt(plaintext.encode()).decode()


def decrypt(datasette, ciphertext):
    try:
        return cipher(datasette).decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise SecretsUnreadable(
            "A stored secret cannot be decrypted with the configured keys: the key it was "
            "encrypted with is gone (Datasette's secret changes on every start unless it is "
            "set). " + HOW_TO_CONFIGURE
        ) from None


async def store(datasette, plugin, name, value):
    """Keep ``value`` encrypted under (plugin, name); replaces an existing one."""
    ciphertext = encrypt(datasette, value)
    now = clock.iso()
    await get_internal_db(datasette).execute_write(
        "insert into _datasette_internal_secrets (plugin, name, ciphertext, created_at, updated_at)"
        " values (?, ?, ?, ?, ?) on conflict (plugin, name) do update set"
        " ciphertext = excluded.ciphertext, updated_at = excluded.updated_at",
        [plugin, name, ciphertext, now, now],
    )


async def read(datasette, plugin, name):
    """The decrypted value, or None when there is none."""
    row = (
        await get_internal_db(datasette).execute(
            "select ciphertext from _datasette_internal_secrets where plugin = ? and name = ?",
            [plugin, name],
        )
    ).first()
    return None if row is None else decrypt(datasette, row["ciphertext"])


async def delete(datasette, plugin, name):
    await get_internal_db(datasette).execute_write(
        "delete from _datasette_internal_secrets where plugin = ? and name = ?", [plugin, name]
    )


async def rotate(datasette):
    """Re-encrypt every secret in core's table (and the key check) with the newest key.

    Plugins that keep ciphertext in their own tables re-encrypt it with ``reencrypt``.
    """
    current = cipher(datasette)

    def write(conn):
        rows = conn.execute(
            "select plugin, name, ciphertext from _datasette_internal_secrets"
        ).fetchall()
        conn.executemany(
            "update _datasette_internal_secrets set ciphertext = ? where plugin = ? and name = ?",
            [(current.rotate(c.encode()).decode(), p, n) for p, n, c in rows],
        )
        conn.execute(
            "update _datasette_internal set key_check = ?",
            [current.encrypt(KEY_CHECK_PLAINTEXT).decode()],
        )
        return len(rows)

    return await get_internal_db(datasette).execute_write_fn(write)


def reencrypt(datasette, ciphertext):
    try:
        return cipher(datasette).rotate(ciphertext.encode()).decode()
    except InvalidToken:
        raise SecretsUnreadable("Cannot re-encrypt: " + HOW_TO_CONFIGURE) from None


def new_key_check(datasette):
    """What ``check_keys`` later decrypts to know the configured keys are the ones in use."""
    return cipher(datasette).encrypt(KEY_CHECK_PLAINTEXT).decode()


async def check_keys(datasette):
    """At startup: can the configured keys read what earlier runs encrypted?

    Returns None when they can, else the message explaining what to configure.
    """
    internal = get_internal_db(datasette)
    row = (await internal.execute("select key_check from _datasette_internal")).first()
    if row is None:
        return None
    if row["key_check"] is not None:
        try:
            cipher(datasette).decrypt(row["key_check"].encode())
            return None
        except InvalidToken:
            pass
    stored = (
        await internal.execute("select count(*) from _datasette_internal_secrets")
    ).single_value()
    if row["key_check"] is None or not stored:
        # Nothing encrypted under the old key survives, so the current key becomes the key.
        await internal.execute_write(
            "update _datasette_internal set key_check = ?", [new_key_check(datasette)]
        )
        return None
    return (
        f"{stored} secret(s) stored in this internal database were encrypted with a key that "
        "is not configured now, so they cannot be read. " + HOW_TO_CONFIGURE
    )
