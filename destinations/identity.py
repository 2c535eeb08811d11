"""Identity hygiene: identifiers normalized as each ad platform documents, then SHA-256 (lowercase hex).

One module for every destination that matches people on hashed identifiers (Meta Custom Audiences,
Google Customer Match). `prepare(platform, raw, region=...)` takes the raw identifiers of one person
(keys of FIELDS) and returns what may be sent: hashed values (or plain ones where the platform wants
them plain: ids, Google's region and postal code) and, per field, whether a value was dropped. An invalid
value is dropped and counted, never sent, and never fails the person's other values or anyone else's
(Segment action-destinations #3823: one bad phone failed a whole Facebook batch). A value that already
is 64 hex characters is taken as a hash made elsewhere and passed through.

Rules, per platform:
- email: trimmed, lowercased; must look like local@domain.tld. Google only: for gmail.com and
  googlemail.com every dot and any "+suffix" of the local part are removed (Meta keeps them).
- phone: parsed with `phonenumbers` (the destination's default region for numbers without a country
  code; "+44 (0)20 ..." trunk zeros handled), must be a valid number; Meta hashes E.164 without the "+",
  Google E.164 with it.
- names: Meta lowercase letters only (no spaces or punctuation, UTF-8 letters kept); Google lowercased
  and trimmed. city (Meta): lowercase, no spaces or punctuation. state (Meta): the 2-letter code
  lowercased (full US state names mapped). zip (Meta): lowercase without spaces, US ZIP+4 cut to 5
  digits; (Google) postal code plain, trimmed. country: ISO alpha-2, lowercased and hashed (Meta),
  uppercased and plain (Google regionCode).
- external_id and madid: trimmed, never hashed.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import phonenumbers

META, GOOGLE = "meta", "google"
PLATFORMS = (META, GOOGLE)
FIELDS = ("email", "phone", "first_name", "last_name", "city", "state", "zip", "country", "external_id", "madid")

_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_GMAIL = frozenset({"gmail.com", "googlemail.com"})
_US_ZIP = re.compile(r"^(\d{5})(?:-?\d{4})?$")
US_STATES = {
    "alabama": "al", "alaska": "ak", "arizona": "az", "arkansas": "ar", "california": "ca", "colorado": "co",
    "connecticut": "ct", "delaware": "de", "district of columbia": "dc", "florida": "fl", "georgia": "ga",
    "hawaii": "hi", "idaho": "id", "illinois": "il", "indiana": "in", "iowa": "ia", "kansas": "ks",
    "kentucky": "ky", "louisiana": "la", "maine": "me", "maryland": "md", "massachusetts": "ma",
    "michigan": "mi", "minnesota": "mn", "mississippi": "ms", "missouri": "mo", "montana": "mt",
    "nebraska": "ne", "nevada": "nv", "new hampshire": "nh", "new jersey": "nj", "new mexico": "nm",
    "new york": "ny", "north carolina": "nc", "north dakota": "nd", "ohio": "oh", "oklahoma": "ok",
    "oregon": "or", "pennsylvania": "pa", "rhode island": "ri", "south carolina": "sc", "south dakota": "sd",
    "tennessee": "tn", "texas": "tx", "utah": "ut", "vermont": "vt", "virginia": "va", "washington": "wa",
    "west virginia": "wv", "wisconsin": "wi", "wyoming": "wy", "puerto rico": "pr",
}


class InvalidValue(ValueError):
    """The value cannot be normalized into something the platform can match: drop it."""


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def is_hashed(value: str) -> bool:
    return bool(_HEX64.match(value))


def _text(raw: Any) -> str:
    if raw is None or isinstance(raw, (bool, dict, list)):
        raise InvalidValue("not a text value")
    value = unicodedata.normalize("NFC", str(raw)).strip()
    if not value:
        raise InvalidValue("empty")
    return value


def email(raw: Any, platform: str) -> str:
    value = _text(raw).lower()
    if not _EMAIL.match(value):
        raise InvalidValue("not an email address")
    local, _, domain = value.rpartition("@")
    if platform == GOOGLE and domain in _GMAIL:
        local = local.split("+", 1)[0].replace(".", "")
        if not local:
            raise InvalidValue("not an email address")
    return f"{local}@{domain}"


def phone(raw: Any, platform: str, region: str = "US") -> str:
    value = _text(raw)
    if value.startswith("00"):  # the international prefix written out: "0044 20 ..."
        value = "+" + value[2:]
    try:
        number = phonenumbers.parse(value, None if value.startswith("+") else (region or "US").upper())
    except phonenumbers.NumberParseException:
        raise InvalidValue("not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidValue("not a valid phone number")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return e164 if platform == GOOGLE else e164.lstrip("+")


def _letters(value: str) -> str:
    return "".join(ch for ch in value.lower() if unicodedata.category(ch).startswith(("L", "N")))


def name(raw: Any, platform: str) -> str:
    value = _text(raw).lower()
    out = _letters(value) if platform == META else value
    if not out:
        raise InvalidValue("no letters")
    return out


def city(raw: Any, platform: str) -> str:
    out = _letters(_text(raw))
    if not out:
        raise InvalidValue("no letters")
    return out


def state(raw: Any, platform: str) -> str:
    value = _text(raw).lower()
    value = US_STATES.get(" ".join(value.split()), value)
    value = _letters(value)
    if len(value) != 2:
        raise InvalidValue("not a 2-letter state code")
    return value


def postal_code(raw: Any, platform: str) -> str:
    value = _text(raw)
    if platform == GOOGLE:
        return value
    value = "".join(value.lower().split())
    us = _US_ZIP.match(value)
    return us.group(1) if us else value


def country(raw: Any, platform: str) -> str:
    value = _text(raw)
    if len(value) != 2 or not value.isalpha():
        raise InvalidValue("not an ISO 3166-1 alpha-2 country code")
    return value.upper() if platform == GOOGLE else value.lower()


def plain_id(raw: Any, platform: str) -> str:
    return _text(raw)


_NORMALIZERS = {"email": email, "first_name": name, "last_name": name, "city": city, "state": state,
                "zip": postal_code, "country": country, "external_id": plain_id, "madid": plain_id}
# Sent as they are, not hashed, per platform.
PLAIN = {META: frozenset({"external_id", "madid"}), GOOGLE: frozenset({"country", "zip", "external_id", "madid"})}


def normalize(key: str, raw: Any, platform: str, *, region: str = "US") -> str:
    """The normalized (not hashed) value of identifier `key`. Raises InvalidValue."""
    if key == "phone":
        return phone(raw, platform, region)
    return _NORMALIZERS[key](raw, platform)


def value_for(key: str, raw: Any, platform: str, *, region: str = "US") -> str:
    """What is sent for identifier `key`: its normalized SHA-256 (or the plain value for the fields the
    platform wants plain). A 64-hex value of a hashed field passes through, lowercased. Raises
    InvalidValue."""
    if platform not in PLATFORMS:
        raise ValueError(f"unknown platform {platform!r}")
    if key in PLAIN[platform]:
        return normalize(key, raw, platform, region=region)
    if isinstance(raw, str) and is_hashed(raw.strip()):
        return raw.strip().lower()
    return sha256(normalize(key, raw, platform, region=region))


@dataclass
class Prepared:
    values: dict[str, str] = field(default_factory=dict)  # field → what to send
    dropped: dict[str, str] = field(default_factory=dict)  # field → why its value was dropped

    def __bool__(self) -> bool:
        return bool(self.values)


def prepare(platform: str, raw: dict[str, Any], *, region: str = "US") -> Prepared:
    """The sendable identifiers of one person from `raw` (keys of FIELDS; missing or empty ones are
    simply absent). Never raises for a bad value: it lands in `dropped` with the reason."""
    out = Prepared()
    for key in FIELDS:
        value = raw.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        try:
            out.values[key] = value_for(key, value, platform, region=region)
        except InvalidValue as exc:
            out.dropped[key] = str(exc)
    return out
