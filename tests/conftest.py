"""Shared fixtures. Hypothesis runs derandomized so CI is deterministic."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from msinfuse.domain.knowledge.loader import DATA_DIR, default_knowledge_base
from msinfuse.domain.knowledge.schema import KnowledgeBase

settings.register_profile(
    "msinfuse",
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("thorough", max_examples=1000, deadline=None)
settings.load_profile("msinfuse")


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    """The packaged knowledge base."""
    return default_knowledge_base()


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    """A writable copy of the knowledge-base data directory."""
    target = tmp_path / "data"
    shutil.copytree(DATA_DIR, target)
    return target
