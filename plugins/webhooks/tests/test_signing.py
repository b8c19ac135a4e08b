import datetime

from datasette_internal_webhooks.signing import (
    new_secret,
    prepared_key,
    secret_key,
    signature,
    signature_header,
    verify_standard,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook

ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=40)
bodies = st.binary(max_size=300).map(lambda b: b.decode("latin-1").encode())
NOW = 1_800_000_000


def headers_for(message_id, timestamp, signatures):
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures,
    }


@settings(max_examples=150, deadline=None)
@given(message_id=ids, body=bodies, offset=st.integers(-300, 300))
def test_our_signature_is_the_reference_librarys(message_id, body, offset):
    secret = new_secret()
    timestamp = NOW + offset
    ours = signature(secret_key(secret), message_id, timestamp, body)
    moment = datetime.datetime.fromtimestamp(timestamp, tz=datetime.timezone.utc)
    assert ours == Webhook(secret).sign(message_id, moment, body.decode())
    assert verify_standard(secret, headers_for(message_id, timestamp, ours), body, NOW)


def test_a_prepared_key_signs_many_messages_as_the_reference_library_does():
    """The worker signs every delivery with one prepared key (copied, never updated itself)."""
    secret = new_secret()
    key = prepared_key(secret_key(secret))
    for n, body in enumerate([b"{}", b'{"a":1}', b"{}"]):
        moment = datetime.datetime.fromtimestamp(NOW + n, tz=datetime.timezone.utc)
        expected = Webhook(secret).sign(f"msg_{n}", moment, body.decode())
        assert signature_header([key], f"msg_{n}", NOW + n, body) == expected


@settings(max_examples=150, deadline=None)
@given(message_id=ids, body=bodies, position=st.integers(0, 10_000), flip=st.integers(1, 255))
def test_any_change_to_the_body_fails(message_id, body, position, flip):
    secret = new_secret()
    header = signature_header([secret_key(secret)], message_id, NOW, body)
    if body:
        index = position % len(body)
        tampered = body[:index] + bytes([body[index] ^ flip]) + body[index + 1 :]
    else:
        tampered = b"x"
    assert not verify_standard(secret, headers_for(message_id, NOW, header), tampered, NOW)
    assert not verify_standard(secret, headers_for(message_id + "x", NOW, header), body, NOW)
    assert not verify_standard(secret, headers_for(message_id, NOW + 1, header), body, NOW)


def test_one_valid_signature_among_several_is_enough_and_old_timestamps_fail():
    old, new = new_secret(), new_secret()
    header = signature_header([secret_key(new), secret_key(old)], "msg_1", NOW, b"{}")
    assert verify_standard(old, headers_for("msg_1", NOW, header), b"{}", NOW)
    assert verify_standard(new, headers_for("msg_1", NOW, header), b"{}", NOW)
    assert not verify_standard(new_secret(), headers_for("msg_1", NOW, header), b"{}", NOW)
    assert not verify_standard(old, headers_for("msg_1", NOW, header), b"{}", NOW + 301)
    assert not verify_standard(old, headers_for("msg_1", "soon", header), b"{}", NOW)
