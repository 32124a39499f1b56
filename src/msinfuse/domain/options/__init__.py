"""Treatment options and practical burden."""
