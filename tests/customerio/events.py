"""Example events from the Customer.io destination seed (shared/seeds/customerio-destination.txt), plus the
variants the seed does not show (anonymous visitors, devices with a platform, aliases...). Payload data
only: each test copies what it needs."""

from __future__ import annotations

import copy
from typing import Any

SEED_DEVICE_TOKEN = (
    "cEFolG5uRDGPizsaUh4X4m:APA91bFsKwjW9zUaiuJMCGqa3fLRiJ8fv1riQ6U-1iI72aSFZx5wxiqGnqbL-S2g3kZ5RrRUUo3AAVh_"
    "LhpFbjDlSqEoC4rqHmH8Z1BGgqaD9jStahy63cGXueW-vOr6mTOekmXgWSww"
)

_EVENTS: dict[str, dict[str, Any]] = {
    "identify": {
        "type": "identify",
        "traits": {"first_name": "cool", "last_name": "person", "email": "cool.person@example.com",
                   "plan": "premium"},
        "userId": "97980cfea0067",
        "created_at": "1679407797",
    },
    "group": {
        "messageId": "4vl6zh", "timestamp": "2022-11-24T22:56:14.144Z", "type": "group",
        "projectId": "sqsv42VjV1e2d8ha2SHxM6",
        "traits": {"name": "Example Co, Inc.", "industry": "edtech", "plan": "enterprise"},
        "groupId": "example-company", "userId": "97980cfea0067",
    },
    "application_installed": {
        "messageId": "i6yatl", "timestamp": "2022-11-24T22:48:17.593Z", "type": "track",
        "email": "cool.person@example.com", "projectId": "sqsv42VjV1e2d8ha2SHxM6",
        "properties": {"device_id": SEED_DEVICE_TOKEN}, "userId": "97980cfea0067",
        "event": "Application Installed",
    },
    "application_uninstalled": {
        "messageId": "i6yatl", "timestamp": "2022-11-24T22:48:17.593Z", "type": "track",
        "email": "cool.person@example.com", "projectId": "sqsv42VjV1e2d8ha2SHxM6",
        "properties": {"device_id": SEED_DEVICE_TOKEN}, "userId": "97980cfea0067",
        "event": "Application Uninstalled",
    },
    "track": {
        "messageId": "i6yatl", "timestamp": "2022-11-24T22:48:17.593Z", "type": "track",
        "email": "cool.person@example.com", "projectId": "sqsv42VjV1e2d8ha2SHxM6",
        "properties": {"class_name": "Customer.io Basics", "class_code": "cio101", "start_date": 1679410730},
        "userId": "97980cfea0067", "event": "enrolled",
    },
    "page": {
        "messageId": "efxqsi", "timestamp": "2022-11-24T22:55:59.498Z", "type": "page",
        "email": "cool.person@example.com", "projectId": "sqsv42VjV1e2d8ha2SHxM6",
        "properties": {"session_started": 1679410730, "url": "http://www.example.com"},
        "userId": "97980cfea0067", "name": "home",
    },
    "screen": {
        "messageId": "9zk6c", "timestamp": "2023-03-20T22:56:06.259Z", "type": "screen",
        "email": "cool.person@example.com", "projectId": "sqsv42VjV1e2d8ha2SHxM6",
        "properties": {"session_started": 1679410730}, "userId": "97980cfea0067", "name": "home",
    },
    # Not in the seed: what the Customer.io SDKs and Segment's libraries also send.
    "alias": {"messageId": "al1", "timestamp": "2023-03-20T22:56:06.259Z", "type": "alias",
              "userId": "97980cfea0067", "previousId": "cool.person@example.com"},
    "user_deleted": {"messageId": "ud1", "timestamp": "2023-03-20T22:56:06.259Z", "type": "track",
                     "event": "User Deleted", "userId": "97980cfea0067", "properties": {}},
    "user_suppressed": {"messageId": "us1", "timestamp": "2023-03-20T22:56:06.259Z", "type": "track",
                        "event": "User Suppressed", "userId": "97980cfea0067", "properties": {}},
    "user_unsuppressed": {"messageId": "uu1", "timestamp": "2023-03-20T22:56:06.259Z", "type": "track",
                          "event": "User Unsuppressed", "userId": "97980cfea0067", "properties": {}},
    "object_deleted": {"messageId": "od1", "timestamp": "2023-03-20T22:56:06.259Z", "type": "track",
                       "event": "Object Deleted", "userId": "97980cfea0067",
                       "properties": {"object_id": "example-company", "object_type_id": "2"}},
    "relationship_deleted": {"messageId": "rd1", "timestamp": "2023-03-20T22:56:06.259Z", "type": "track",
                             "event": "Relationship Deleted", "userId": "97980cfea0067",
                             "properties": {"object_id": "example-company"}},
    "report_delivery": {"messageId": "rde1", "timestamp": "2023-03-20T22:56:06.259Z", "type": "track",
                        "event": "Report Delivery Event", "anonymousId": "anon-1",
                        "properties": {"deliveryId": "RPILAgUBcRhIBqSfeiIwdIYJKxTY", "metric": "opened",
                                       "recipient": SEED_DEVICE_TOKEN}},
}


def event(name: str, **changes: Any) -> dict[str, Any]:
    """A deep copy of the named example event, with top-level keys replaced by `changes`
    (a value of None removes the key)."""
    copied = copy.deepcopy(_EVENTS[name])
    for key, value in changes.items():
        if value is None:
            copied.pop(key, None)
        else:
            copied[key] = value
    return copied


NAMES = tuple(_EVENTS)
