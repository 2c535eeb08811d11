"""Deployment checks of our own, run by `manage.py check --deploy` next to Django's.

They catch what Django cannot know: destination secrets encrypted with a key derived from SECRET_KEY
(rotating SECRET_KEY would then make them unreadable) and the SSRF guard switched off in production. A
missing or public SECRET_KEY needs no check: settings.py refuses to start with one.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register


@register(Tags.security, deploy=True)
def check_production_secrets(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Deploy-only checks on FIELD_ENCRYPTION_KEY and OUTBOUND_ALLOW_PRIVATE."""
    messages: list[CheckMessage] = []
    if not settings.FIELD_ENCRYPTION_KEYS:
        messages.append(Warning(
            "FIELD_ENCRYPTION_KEY is not set: destination secrets are encrypted with a key derived from SECRET_KEY.",
            hint="Set FIELD_ENCRYPTION_KEY (python -c 'from cryptography.fernet import Fernet; "
                 "print(Fernet.generate_key().decode())'), then run manage.py rotate_secrets.",
            id="pipelines.W002",
        ))
    if settings.OUTBOUND_ALLOW_PRIVATE:
        messages.append(Warning(
            "OUTBOUND_ALLOW_PRIVATE is on: destinations may send to private, loopback and link-local addresses.",
            hint="Leave it off in production unless a destination really lives on your private network.",
            id="pipelines.W003",
        ))
    return messages
