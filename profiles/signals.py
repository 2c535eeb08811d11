"""`person_changed`: sent by profiles.store after it applied a chunk of events, and once more per
merge. Receivers (audiences) get, as keyword arguments:

- workspace_id: int
- person_ids: set[int] — the people whose state changed (for a merge: the surviving person only)
- event_names: set[str] — the track event names that arrived for them in this chunk (for a merge: every
  event name the merged people had)
- trait_keys: set[str] — the trait keys whose value changed
- merged_ids: set[int] — for a merge, the people merged into the survivor (they no longer exist);
  empty otherwise
- created_ids: set[int] — the people this chunk created (new to the store)
- states: {person_id: profiles.state.PersonState} — the people's compact states as just written (what
  load_states would answer now), so receivers need not read them again
- changes (the chunk's send only): {person_id: (event names, trait keys)} — per person, what changed

It is sent inside the transaction that applied the chunk: a receiver sees the new state in `states`
(or with profiles.state.load_states), its own writes commit with the chunk, and if it raises, the chunk is rolled
back and its delivery retried (so keep receivers quick; queue heavy work with transaction.on_commit).
"""

from django.dispatch import Signal

person_changed = Signal()
