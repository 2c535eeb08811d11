"""Privacy requests: deleting a person's data, and suppressing their future events at ingest.

- models.py: PrivacyRequest (what was asked, by whom, what it removed and forwarded), Suppression (an
  identity whose events are dropped before they are stored) and SuppressedEvent (payload-free traces of
  dropped events for the source's debugger);
- services.py: every state change (request a deletion, suppress, unsuppress, run a deletion, retry its
  forwards); suppression.py: the cheap ingest-time check (a per-process, per-workspace cache);
- tasks.py: the Celery tasks (queue "retries"); api.py / views.py + forms.py: the management API and the
  Privacy page, both thin over services. docs/privacy.md says what is deleted and what is not.
"""
