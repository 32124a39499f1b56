"""Use cases: load, call the pure domain, persist."""
