"""Due dates of repeated tasks (labs, imaging, authorizations): the one arithmetic that the
monitoring list, the worklists, the pre-infusion check and the PML risk report share.

A task anchored on the first dose has one-off points at ``offsets`` after it (TOUCH
evaluations at 3 and 6 months), then repeats every ``interval`` after the last result
(rolling). A task whose result is expected before the first dose (``baseline``) is due at
the first dose when no result is on file; otherwise a task never done is due one interval
(or its first offset) after the first dose. A result counts from the day it is dated,
whenever that was: a test older than one interval is simply overdue.
"""

from __future__ import annotations

from datetime import date

from msinfuse.domain.knowledge.facts import Duration


def rolling_due(
    first: date | None,
    offsets: tuple[Duration, ...],
    interval: Duration | None,
    last_done: date | None,
    *,
    baseline: bool = False,
) -> date | None:
    """When the task is next due; ``None`` when nothing further is due.

    ``first`` is the first dose (``None`` before treatment starts: offsets then do not
    apply); ``last_done`` the newest result that counts.
    """
    points = [o.after(first) for o in offsets] if first is not None else []
    pending = [p for p in points if last_done is None or p > last_done]
    if pending:
        return min(pending)
    if last_done is None and baseline:
        return first
    if interval is None:
        return None
    base = last_done or (points[-1] if points else first)
    return None if base is None else interval.after(base)


def done_since(results: list[date], since: date | None, window_start: date) -> date | None:
    """The newest result dated after ``since`` (the last dose; ``None`` before the first
    dose) and no earlier than ``window_start``: a result that counts for a task due before
    every dose. ``None`` when no result counts."""
    counting = [r for r in results if (since is None or r > since) and r >= window_start]
    return max(counting) if counting else None


__all__ = ["done_since", "rolling_due"]
