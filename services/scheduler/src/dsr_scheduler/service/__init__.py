"""The scheduler's use cases: every change the service makes, each in one
unit of work (dsr_shared.platform.unit_of_work). An event from the register
(register_events.py), a command over HTTP (commands.py), or time passing
(sweep.py): load through the repositories (ports.py), ask domain/ what
follows, save, and stage the events that say so (changes.py). Entry points
(handlers.py, api.py, app.py) call one method each; nothing here knows the
database driver."""

from __future__ import annotations

from dsr_scheduler.service.changes import BuildOutgoing, ObligationChanges
from dsr_scheduler.service.commands import Commands, CompletionResult, within_scope
from dsr_scheduler.service.register_events import RegisterEvents
from dsr_scheduler.service.sweep import Sweep

__all__ = ["BuildOutgoing", "CompletionResult", "ObligationChanges", "Scheduler", "within_scope"]


class Scheduler(RegisterEvents, Commands, Sweep):
    """Every use case of the scheduler, on one set of dependencies
    (ObligationChanges.__init__)."""
