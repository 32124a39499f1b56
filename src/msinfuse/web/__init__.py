"""Web UI: Jinja2 + htmx pages calling the same services as the API."""
