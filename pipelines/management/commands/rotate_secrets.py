"""`python manage.py rotate_secrets`: re-encrypt every destination secret under the first FIELD_ENCRYPTION_KEY.

Key rotation: put the new key first in FIELD_ENCRYPTION_KEY (keep the old one after it), restart, run
this command, then remove the old key. Secrets no configured key can decrypt are listed and left as they
are; the command then fails so the rotation is not mistaken for complete.

`--public-development-key` also decrypts secrets stored under the key derived from the public default
SECRET_KEY of earlier versions (readable by anyone), so they end up under a key of your own.
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from cryptography.fernet import InvalidToken
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from connections.models import Destination
from pipelines import crypto


class Command(BaseCommand):
    help = "Re-encrypt all destination secrets under the first FIELD_ENCRYPTION_KEY."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--public-development-key", action="store_true",
            help="Also decrypt secrets encrypted under the key derived from the public development SECRET_KEY "
                 "of earlier versions.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        crypto.reset_keys()
        extra = (crypto.public_development_key(),) if options["public_development_key"] else ()
        rotated, failed = 0, []
        ids = list(Destination.objects.exclude(secrets_encrypted="").values_list("id", flat=True))
        for dest_id in ids:
            with transaction.atomic():
                dest = Destination.objects.select_for_update().filter(id=dest_id).first()
                if dest is None or not dest.secrets_encrypted:
                    continue
                try:
                    token = crypto.rotate(dest.secrets_encrypted, also_decrypt_with=extra)
                except InvalidToken:
                    failed.append(dest)
                    continue
                Destination.objects.filter(id=dest_id).update(secrets_encrypted=token)
                rotated += 1
        self.stdout.write(f"Re-encrypted the secrets of {rotated} destination(s).")
        if failed:
            names = ", ".join(f"#{d.id} {d.name} ({d.workspace_id})" for d in failed)
            raise CommandError(
                f"{len(failed)} destination(s) have secrets no configured key can decrypt: {names}. "
                "Add the key they were encrypted with to FIELD_ENCRYPTION_KEY and run this again."
            )
