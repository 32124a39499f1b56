"""Pure domain: no I/O, no clock, no settings."""
