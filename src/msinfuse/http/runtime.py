"""What a running server holds: settings, the database engine, the knowledge base."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from anyio import CapacityLimiter
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
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    #: One slot per pooled connection: a request waits here (without a thread) for its turn.
    transactions: CapacityLimiter = field(default_factory=lambda: CapacityLimiter(1))
    #: Threads that only finish transactions, so finishing never waits behind new requests.
    finishers: CapacityLimiter = field(default_factory=lambda: CapacityLimiter(1))

    @classmethod
    def create(cls, settings: Settings, clock: Callable[[], datetime] | None = None) -> Runtime:
        """Build the runtime for ``settings`` (``clock`` replaces the wall clock in tests)."""
        engine = make_engine(
            settings.effective_database_url(),
            pool_size=settings.db_pool_size,
            max_overflow=0,
            pool_timeout=30,
        )
        runtime = cls(
            settings,
            engine,
            session_factory(engine),
            default_knowledge_base(),
            transactions=CapacityLimiter(settings.db_pool_size),
            finishers=CapacityLimiter(settings.db_pool_size),
        )
        if clock is not None:
            runtime.clock = clock
        return runtime

    def now(self) -> datetime:
        """The clock, read at the edge (timezone-aware)."""
        return self.clock()
