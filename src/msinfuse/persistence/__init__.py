"""SQLAlchemy models, repositories and session scope."""
