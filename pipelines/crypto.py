"""Encryption of secrets at rest (Fernet: AES-128-CBC + HMAC-SHA256).

Keys come from FIELD_ENCRYPTION_KEY (comma-separated; the first encrypts, every one decrypts). Rotating:
put the new key first, run `python manage.py rotate_secrets`, then remove the old key. With no key
configured one is derived from SECRET_KEY (which has no default: see settings.py).

Earlier versions defaulted SECRET_KEY to a public development value, so secrets stored with the key
derived from it were readable by anyone. `rotate_secrets --public-development-key` re-encrypts them
under the current key (`make run` does that by itself for the demo's database).
"""

from __future__ import annotations

import base64
import hashlib
import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def derived_key(secret_key: str) -> str:
    """The Fernet key used when FIELD_ENCRYPTION_KEY is not set, derived from `secret_key`."""
    derived = hashlib.sha256(("field-encryption:" + secret_key).encode()).digest()
    return base64.urlsafe_b64encode(derived).decode()


def public_development_key() -> str:
    """The key earlier versions derived from their public default SECRET_KEY (decrypting only)."""
    return derived_key(settings.PUBLIC_DEVELOPMENT_SECRET_KEY)


@functools.cache
def _fernet(also_decrypt_with: tuple[str, ...] = ()) -> MultiFernet:
    keys = list(settings.FIELD_ENCRYPTION_KEYS) or [derived_key(settings.SECRET_KEY)]
    keys += [k for k in also_decrypt_with if k not in keys]
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


def can_decrypt(token: str) -> bool:
    """True when a configured key decrypts `token`."""
    try:
        _fernet().decrypt(token.encode())
    except InvalidToken:
        return False
    return True


def rotate(token: str, *, also_decrypt_with: tuple[str, ...] = ()) -> str:
    """Re-encrypt a token under the first (newest) key. `also_decrypt_with` are keys that may have
    encrypted it without being configured (the public development key). Raises InvalidToken."""
    return _fernet(tuple(also_decrypt_with)).rotate(token.encode()).decode()


def mask(value: str) -> str:
    """What a secret looks like on screen: its last four characters at most, never the whole value."""
    if not value:
        return ""
    tail = value[-4:] if len(value) >= 12 else ""
    return "••••••••" + tail
