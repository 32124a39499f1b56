"""Logging that never prints patient data.

msinfuse logs events by rule id, resource type and record id only. As a second line of
defence, :class:`RedactingFilter` drops the formatted arguments of any record whose
logger is marked as handling patient data, and masks anything that looks like a date of
birth, an e-mail address or a long number in every message.
"""

from __future__ import annotations

import logging
import re

_PATTERNS = (
    re.compile(r"\b\d{4}-\d{2}-\d{2}\b"),  # ISO dates (birth dates, lab dates)
    re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"),  # e-mail addresses
    re.compile(r"\b\d{6,}\b"),  # long numbers (MRNs, phone numbers)
)


def redact(text: str) -> str:
    """Mask dates, e-mail addresses and long numbers in ``text``."""
    for pattern in _PATTERNS:
        text = pattern.sub("[redacted]", text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrite every record's message with :func:`redact` applied."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        return True


def configure_logging(level: str = "INFO") -> None:
    """Configure the root ``msinfuse`` logger once, with redaction."""
    logger = logging.getLogger("msinfuse")
    if any(isinstance(f, RedactingFilter) for h in logger.handlers for f in h.filters):
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler.addFilter(RedactingFilter())
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False
