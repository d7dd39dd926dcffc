"""Coroutines started by a form, kept so that closing the form cancels them.

Each form shows its own progress and errors inline, so a task here reports back through two
callbacks: one for the result and one for a `LeafError` (anything else is logged and turned into
one, so the form never shows a traceback).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from PySide6.QtCore import QCoreApplication

from leafdesk.core.errors import LeafError
from leafdesk.ui import aio

log = logging.getLogger(__name__)


class FormTasks:
    """The running coroutines of one form."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task] = set()
        self._running = 0

    @property
    def busy(self) -> bool:
        """Whether a coroutine is still working; False already while its callback runs."""
        return self._running > 0

    def start(
        self,
        coro: Coroutine[Any, Any, Any],
        on_result: Callable[[Any], None],
        on_error: Callable[[LeafError], None],
        *,
        action: str,
    ) -> asyncio.Task:
        """Run `coro` on the Qt event loop; `action` names the work in an unexpected error."""
        self._running += 1
        task = aio.spawn(self._report(coro, on_result, on_error, action))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _report(self, coro, on_result, on_error, action: str) -> None:
        try:
            result = await coro
        except LeafError as error:
            self._running -= 1
            log.info("Could not %s: %s", action, error)
            on_error(error)
            return
        except asyncio.CancelledError:
            self._running -= 1
            raise
        except Exception as error:  # the form must show a sentence, not let the task die silently
            self._running -= 1
            log.exception("Unexpected failure while trying to %s", action)
            on_error(LeafError(
                QCoreApplication.translate("FormTasks", "an unexpected error occurred ({kind})")
                .format(kind=type(error).__name__),
                action=action,
                details=str(error),
            ))
            return
        self._running -= 1
        on_result(result)

    def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    async def wait_finished(self) -> None:
        """Wait until every task of the form has ended, however it ended."""
        running = [task for task in self._tasks if not task.done()]
        if running:
            await asyncio.wait(running)
