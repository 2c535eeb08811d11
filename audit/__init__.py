"""The audit log: who changed which source, destination, connection, action, key or member, and when.

Entries are written from the model layer (audit.recording, signal receivers), so every way of changing
those objects (the UI, the management API, Django admin, management commands, Celery) is recorded alike.
Who made the change is read from the current request (audit.context); without one it is "system".
"""
