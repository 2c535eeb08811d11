"""STAND-IN for the profiles app (built on the `profiles` branch): only the interface audiences uses —
Person, state.load_states, signals.person_changed. Dropped when the real app lands on main."""
