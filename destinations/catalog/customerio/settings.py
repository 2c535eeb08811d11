"""Customer.io's settings: the declared fields (defaults live here only) and the accessor every module of
this package reads them through."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..base import SettingField, Settings

DEFAULT_BATCH_SIZE = 50
MAX_BATCH_SIZE = 100

FIELDS = (
    SettingField("site_id", "Site ID", "string", "Your Customer.io Site ID (Settings → API Credentials).",
                 required=True),
    SettingField("api_key", "API Key", "string", "Your Track API key (Settings → API Credentials).",
                 required=True, secret=True),
    SettingField("region", "Account Region", "choice", "The region your Customer.io account is in.",
                 default="us", choices=(("us", "US"), ("eu", "EU"))),
    SettingField("convert_timestamps", "Convert timestamps", "boolean",
                 "Send ISO-8601 date-time attribute values as unix timestamps, which Customer.io "
                 "segments and filters treat as dates.", default=True),
    SettingField("batch_size", "Batch size", "integer",
                 f"Events sent per request to /api/v2/batch (1 to {MAX_BATCH_SIZE}); 1 sends each event on "
                 "its own.", default=DEFAULT_BATCH_SIZE),
)


def read(settings: Mapping[str, Any] | None) -> Settings:
    """A destination's stored settings with the defaults above applied (see base.Settings)."""
    return Settings(FIELDS, settings)
