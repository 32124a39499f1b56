"""The ``msinfuse`` command line."""
