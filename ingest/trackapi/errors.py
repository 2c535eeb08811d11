"""The one exception a Track API request is rejected with."""

from __future__ import annotations


class TrackError(Exception):
    """A request (or one v2 batch item) is invalid.

    `message` is shown to the client; `field` names the offending field (dotted path, "" for the body);
    `reason` is a short machine-readable word (required, invalid, too_large, unsupported).
    """

    def __init__(self, message: str, *, field: str = "", reason: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.reason = reason

    def as_v2(self) -> dict[str, str]:
        return {"reason": self.reason, "field": self.field, "message": self.message}
