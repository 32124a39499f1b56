"""Settings, read once at the edge and passed down.

Nothing is read at import time: call :func:`get_settings` (cached) from an entry point,
or build ``Settings(...)`` directly in tests.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

Profile = Literal["us", "eu"]


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "msinfuse"


class Settings(BaseSettings):
    """msinfuse settings; every field can be set as ``MSINFUSE_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="MSINFUSE_", extra="ignore", frozen=True)

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path = Field(default_factory=_default_data_dir)
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; unset means the embedded SQLite file under data_dir.",
    )
    profile: Profile = Field(default="us", description="Default label profile: us or eu.")
    log_level: str = "INFO"
    token_hours: float = Field(default=8.0, gt=0, description="Lifetime of API bearer tokens.")
    session_hours: float = Field(default=12.0, gt=0, description="Lifetime of browser sessions.")
    lockout_attempts: int = Field(default=5, ge=1, description="Failed sign-ins before a lock-out.")
    lockout_minutes: int = Field(default=15, ge=1, description="Length of a lock-out.")
    signin_per_minute: int = Field(
        default=10, ge=1, description="Sign-in attempts per client address per minute."
    )
    max_body_bytes: int = Field(
        default=5_000_000, ge=1024, description="Largest request body accepted."
    )
    db_pool_size: int = Field(
        default=10,
        ge=1,
        le=200,
        description="Database connections per server process. At most this many requests "
        "hold a transaction at once; the others wait for a free one without holding a thread.",
    )
    timezone: str = Field(
        default="UTC",
        description="The clinic's IANA time zone: stored clinic times are local wall-clock "
        "times, and FHIR and iCalendar exports state this zone.",
    )
    secure_cookies: bool = Field(
        default=False, description="Mark cookies Secure (set behind HTTPS)."
    )

    def effective_database_url(self) -> str:
        """The database URL to use: the configured one, or the embedded SQLite file."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'msinfuse.sqlite3'}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first call."""
    return Settings()
