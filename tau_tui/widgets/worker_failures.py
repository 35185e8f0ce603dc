"""``ReportsWorkerFailures``: hands a node's failed workers to the app's one handler.

Textual posts ``Worker.StateChanged`` to the node that started the worker and
does not bubble it, so without this a screen's or widget's failed worker
(``exit_on_error=False``) would fail silently. ``TauApp.worker_failed`` decides
what a failure means: the end of the app during start-up, an error notice after.
"""

from __future__ import annotations

from textual.worker import Worker, WorkerState


class ReportsWorkerFailures:
    """Mix into a ``Screen`` or ``Widget`` whose workers run with ``exit_on_error=False``."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            handler = getattr(self.app, "worker_failed", None)  # type: ignore[attr-defined]
            if handler is not None:
                handler(event.worker)
