"""One exception tree for msinfuse.

::

    MsinfuseError
    ├── UserError                 the caller can fix it; shown as a one-line message
    │   ├── NotFound              a named thing does not exist
    │   ├── Conflict              the request clashes with stored state
    │   ├── InvalidInput          malformed or out-of-range input
    │   ├── KnowledgeBaseError    a knowledge-base data file fails validation
    │   ├── PermissionDenied      the signed-in user's role does not allow it
    │   └── SchedulingInfeasible  no schedule satisfies the hard constraints
    └── InternalError             a broken invariant; a bug, never the user's fault

Expected clinical outcomes (a hold, an overdue dose, a cumulative limit reached) are
values returned by the engines, never exceptions.

Messages must never carry patient identifiers or clinical values: they are logged and
shown at every edge. Name the field or the rule, not the data.
"""

from __future__ import annotations


class MsinfuseError(Exception):
    """Base class of every error msinfuse raises on purpose."""


class UserError(MsinfuseError):
    """An error the caller can fix; its message is safe to show."""


class NotFound(UserError):
    """A named thing (agent, regimen, patient, appointment...) does not exist."""


class Conflict(UserError):
    """The request clashes with stored state (double booking, stale version...)."""


class InvalidInput(UserError):
    """Input that is malformed or out of range.

    ``field`` names the input at fault (``volume_ml``, ``rate_ml_h``...) when one is: the web
    shows the message beside that field, the API returns it with the error.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class KnowledgeBaseError(UserError):
    """A knowledge-base data file failed validation.

    The message names the file, the field path and the problem.
    """

    def __init__(self, file: str, path: str, problem: str) -> None:
        self.file = file
        self.path = path
        self.problem = problem
        super().__init__(f"{file}: {path}: {problem}" if path else f"{file}: {problem}")


class PermissionDenied(UserError):
    """The signed-in user's role does not allow this action."""


class SchedulingInfeasible(UserError):
    """No schedule satisfies the hard constraints."""


class InternalError(MsinfuseError):
    """A broken invariant inside msinfuse: a bug to report, not a user mistake."""
