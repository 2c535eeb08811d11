"""Encryption of secrets at rest (Fernet: AES-128-CBC + HMAC-SHA256).

Keys come from FIELD_ENCRYPTION_KEY (comma-separated; the first encrypts, every one decrypts). Rotating:
put the new key first, run `python manage.py rotate_secrets`, then remove the old key. With no key
configured one is derived from SECRET_KEY so the embedded mode works out of the box.
"""

from __future__ import annotations

import base64
import hashlib
import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@functools.cache
def _fernet() -> MultiFernet:
    keys = list(settings.FIELD_ENCRYPTION_KEYS)
    if not keys:
        derived = hashlib.sha256(("field-encryption:" + settings.SECRET_KEY).encode()).digest()
        keys = [base64.urlsafe_b64encode(derived).decode()]
    try:
        return MultiFernet([Fernet(k.encode() if isinstance(k, str) else k) for k in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEY must be url-safe base64-encoded 32-byte keys "
            "(generate one with: python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')"
        ) from exc


def reset_keys() -> None:
    """Forget the cached keys (after settings change, e.g. in tests)."""
    _fernet.cache_clear()


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    """Raises ValueError when no configured key can decrypt the token."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("secret cannot be decrypted with the configured FIELD_ENCRYPTION_KEY") from exc


def rotate(token: str) -> str:
    """Re-encrypt a token under the first (newest) key."""
    return _fernet().rotate(token.encode()).decode()


def mask(value: str) -> str:
    """What a secret looks like on screen: its last four characters at most, never the whole value."""
    if not value:
        return ""
    tail = value[-4:] if len(value) >= 12 else ""
    return "••••••••" + tail
