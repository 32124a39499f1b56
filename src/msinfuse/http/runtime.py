"""What a running server holds: settings, the database engine, the knowledge base."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from msinfuse.config import Settings
from msinfuse.domain.knowledge.loader import default_knowledge_base
from msinfuse.domain.knowledge.schema import KnowledgeBase
from msinfuse.persistence.engine import make_engine, session_factory


@dataclass
class Runtime:
    """Process-wide, read-only state (nothing here is needed by another worker)."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    kb: KnowledgeBase

    @classmethod
    def create(cls, settings: Settings) -> Runtime:
        """Build the runtime for ``settings``."""
        engine = make_engine(settings.effective_database_url())
        return cls(settings, engine, session_factory(engine), default_knowledge_base())

    @staticmethod
    def now() -> datetime:
        """The clock, read at the edge."""
        return datetime.now(UTC)
