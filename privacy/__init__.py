"""Privacy requests: deleting a person's data, and suppressing their future events at ingest.

- models.py: PrivacyRequest (what was asked, by whom, what it removed) and Suppression (an identity whose
  events are dropped before they are stored);
- services.py: the state changes (request a deletion, suppress, unsuppress, run a deletion);
- suppression.py: the cheap ingest-time check (a per-process, per-workspace cache);
- api.py / views.py: the management API and the Privacy page, both thin over services.
"""
