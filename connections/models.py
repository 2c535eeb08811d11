"""Sources, destinations, the connections between them, and each destination's actions."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models

from pipelines import crypto
from pipelines.models import Workspace


class SourceKind(models.TextChoices):
    JAVASCRIPT = "javascript", "JavaScript (website)"
    PYTHON = "python", "Python"
    NODE = "node", "Node.js"
    GO = "go", "Go"
    IOS = "ios", "iOS"
    ANDROID = "android", "Android"
    REACT_NATIVE = "react_native", "React Native"
    FLUTTER = "flutter", "Flutter"
    HTTP = "http", "HTTP API"
    JOURNEYS_TRACK_API = "journeys_track_api", "Journeys Track API"
    WEBHOOK = "webhook", "Incoming webhook"
    AUDIENCE = "audience", "Audience sync"


# Client-side sources run on the user's device and can load direct-mode destinations themselves;
# server-side libraries only know our endpoint, so they can feed cloud-mode destinations only.
CLIENT_SIDE_KINDS = frozenset(
    {SourceKind.JAVASCRIPT, SourceKind.IOS, SourceKind.ANDROID, SourceKind.REACT_NATIVE, SourceKind.FLUTTER}
)
# Sources that appear under "Internal Sources" on the Connections page.
INTERNAL_KINDS = frozenset({SourceKind.JOURNEYS_TRACK_API, SourceKind.AUDIENCE})
# Sources that Pipelines creates itself and nobody creates by hand: an audience connected to a destination
# gets one (audience_sync), whose events carry its entries and exits to that destination only.
SYSTEM_KINDS = frozenset({SourceKind.AUDIENCE})


def new_write_key() -> str:
    return secrets.token_urlsafe(24)


def new_site_id() -> str:
    return secrets.token_hex(10)


def new_api_key() -> str:
    return secrets.token_hex(20)


def hash_api_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


class Source(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="sources")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=32, choices=SourceKind.choices)
    write_key = models.CharField(max_length=64, unique=True, default=new_write_key, editable=False)
    enabled = models.BooleanField(default=True)
    # Journeys Track API credentials (kind journeys_track_api only): the API key is shown once and kept
    # only as a SHA-256 digest, like a password.
    site_id = models.CharField(max_length=40, unique=True, null=True, blank=True, editable=False)
    api_key_hash = models.CharField(max_length=64, blank=True, default="", editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["workspace", "kind"])]

    def __str__(self) -> str:
        return self.display_name

    @property
    def is_client_side(self) -> bool:
        return self.kind in CLIENT_SIDE_KINDS

    @property
    def is_internal(self) -> bool:
        return self.kind in INTERNAL_KINDS

    @property
    def display_name(self) -> str:
        if self.kind == SourceKind.JOURNEYS_TRACK_API:
            return f"Journeys API: {self.name}"
        if self.kind == SourceKind.AUDIENCE:
            return f"Audience: {self.name}"
        return self.name

    def rotate_write_key(self) -> str:
        self.write_key = new_write_key()
        self.save(update_fields=["write_key", "updated_at"])
        return self.write_key

    def issue_track_api_key(self) -> str:
        """Generate (or rotate) the Track API credentials; returns the API key, which is not stored."""
        api_key = new_api_key()
        if not self.site_id:
            self.site_id = new_site_id()
        self.api_key_hash = hash_api_key(api_key)
        return api_key

    def check_track_api_key(self, api_key: str) -> bool:
        return bool(self.api_key_hash) and hmac.compare_digest(self.api_key_hash, hash_api_key(api_key))


class DestinationMode(models.TextChoices):
    CLOUD = "cloud", "Cloud mode"
    DIRECT = "direct", "Direct mode"


class Destination(models.Model):
    """A configured instance of a catalog destination type (`kind` is a catalog key).

    Settings are split on write by the catalog entry's field declarations: plain values in `config`,
    secret values encrypted as one JSON document in `secrets_encrypted`. Read them through `settings`.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="destinations")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=64)
    mode = models.CharField(max_length=10, choices=DestinationMode.choices, default=DestinationMode.CLOUD)
    config = models.JSONField(default=dict, blank=True)
    secrets_encrypted = models.TextField(blank=True, default="")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    sources = models.ManyToManyField(Source, through="Connection", related_name="destinations")

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["workspace", "kind"])]

    def __str__(self) -> str:
        return self.name

    @property
    def definition(self) -> Any:
        from destinations.catalog import get_definition

        return get_definition(self.kind)

    @property
    def secret_values(self) -> dict[str, Any]:
        if not self.secrets_encrypted:
            return {}
        import orjson

        return orjson.loads(crypto.decrypt(self.secrets_encrypted))

    @property
    def settings(self) -> dict[str, Any]:
        """All settings, secrets decrypted. For sending only: never render this."""
        return {**self.config, **self.secret_values}

    @settings.setter
    def settings(self, values: dict[str, Any]) -> None:
        import orjson

        secret_keys = {f.key for f in self.definition.settings if f.secret}
        plain = {k: v for k, v in values.items() if k not in secret_keys}
        hidden = {k: v for k, v in values.items() if k in secret_keys and v not in (None, "")}
        self.config = plain
        self.secrets_encrypted = crypto.encrypt(orjson.dumps(hidden).decode()) if hidden else ""

    def masked_settings(self) -> dict[str, Any]:
        """Settings safe to show: every secret replaced by its mask."""
        return {**self.config, **{k: _mask_value(v) for k, v in self.secret_values.items()}}


def _mask_value(value: Any) -> Any:
    if isinstance(value, dict):  # e.g. webhook headers: names are shown, values are not
        return {k: crypto.mask(str(v)) for k, v in value.items()}
    return crypto.mask(str(value))


class Connection(models.Model):
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="connections")
    destination = models.ForeignKey(Destination, on_delete=models.CASCADE, related_name="connections")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "destination"], name="unique_connection"),
        ]

    def __str__(self) -> str:
        return f"{self.source} → {self.destination}"

    def clean(self) -> None:
        check_connectable(self.source, self.destination)

    def save(self, *args: Any, **kwargs: Any) -> None:
        check_connectable(self.source, self.destination)
        super().save(*args, **kwargs)


SERVER_TO_DIRECT_MESSAGE = (
    "Server libraries can't send data directly to direct-mode destinations: "
    "connect a client-side source (JavaScript or mobile) instead."
)


MOBILE_TO_WEB_DIRECT_MESSAGE = (
    "Mobile SDKs can't send data directly to this direct-mode destination: it runs only in web browsers "
    "(a mobile app would need a device-mode plugin, which is not available). Connect a JavaScript "
    "(website) source instead."
)
MOBILE_KINDS = CLIENT_SIDE_KINDS - {SourceKind.JAVASCRIPT}


def check_connectable(source: Source, destination: Destination) -> None:
    """Raise ValidationError unless `source` may feed `destination`."""
    if source.workspace_id != destination.workspace_id:
        raise ValidationError("A source can only be connected to a destination of the same workspace.")
    if destination.mode == DestinationMode.DIRECT and not source.is_client_side:
        raise ValidationError(SERVER_TO_DIRECT_MESSAGE)
    if destination.mode == DestinationMode.DIRECT and source.kind in MOBILE_KINDS:
        try:
            platforms = destination.definition.direct_platforms
        except KeyError:  # a type gone from the catalog: nothing could run it anywhere
            platforms = ()
        if "mobile" not in platforms:
            raise ValidationError(MOBILE_TO_WEB_DIRECT_MESSAGE)


class Action(models.Model):
    destination = models.ForeignKey(Destination, on_delete=models.CASCADE, related_name="actions")
    kind = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    trigger = models.TextField()
    mapping = models.JSONField(default=dict, blank=True)
    enabled = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class WebhookSignature(models.TextChoices):
    NONE = "none", "No signature check"
    HMAC_SHA256 = "hmac_sha256", "HMAC-SHA256 of the body in a header"
    STRIPE = "stripe", "Stripe (t=…,v1=… in Stripe-Signature)"


class WebhookEncoding(models.TextChoices):
    HEX = "hex", "Hex"
    BASE64 = "base64", "Base64"


class WebhookSettings(models.Model):
    """How an incoming webhook source (kind webhook) turns a posted body into events, and how it checks
    the sender's signature. Read by ingest.webhooks; changed through connections.services.

    `mapping` is an object of event field → mapping (destinations.mapping directives) evaluated against
    `{"body": <parsed body>, "headers": {...}}`, and with `array_path` set once per element of that
    array with `item` (the element) and `index` added. The shared secret is encrypted at rest.
    """

    source = models.OneToOneField(Source, on_delete=models.CASCADE, related_name="webhook_settings")
    array_path = models.CharField(max_length=500, blank=True, default="")
    mapping = models.JSONField(default=dict, blank=True)
    signature_scheme = models.CharField(max_length=16, choices=WebhookSignature.choices,
                                        default=WebhookSignature.NONE)
    signature_header = models.CharField(max_length=100, blank=True, default="X-Signature")
    signature_encoding = models.CharField(max_length=8, choices=WebhookEncoding.choices, default=WebhookEncoding.HEX)
    signature_prefix = models.CharField(max_length=40, blank=True, default="")
    secret_encrypted = models.TextField(blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"webhook settings of {self.source_id}"

    @property
    def secret(self) -> str:
        """The shared secret, decrypted. For checking signatures only: never render it."""
        return crypto.decrypt(self.secret_encrypted) if self.secret_encrypted else ""

    @secret.setter
    def secret(self, value: str) -> None:
        self.secret_encrypted = crypto.encrypt(value) if value else ""

    @property
    def masked_secret(self) -> str:
        return crypto.mask(self.secret) if self.secret_encrypted else ""
