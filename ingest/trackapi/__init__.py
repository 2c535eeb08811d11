"""Journeys Track API sources: Customer.io's Track API (v1 and v2) answered by this server.

Each `journeys_track_api` source is one set of Track API credentials (site id + API key, HTTP Basic).
Every accepted call becomes one or more Pipelines-format events stored on that source with
`ingest.services.store_events`, so it fans out exactly like `/v1/*` traffic.

Modules: `auth` (credentials → Source), `validation` (the Track API's limits and field rules),
`messages` (the Pipelines event builders: one function per kind of call), `operations` (Track request
bodies → messages, v1 and v2), `views` (HTTP: status codes and bodies in Customer.io's shapes).
The mapping is documented in the README, section "Track API sources".
"""
