"""person_changed(workspace_id, person_ids, event_names, trait_keys, merged_ids=()): sent after commit
when people's compact state changed."""

from django.dispatch import Signal

person_changed = Signal()
