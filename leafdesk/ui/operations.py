"""Background operations: long work (refresh, connect, delete, export) run as asyncio tasks.

The window stays responsive while they run. An `Operation` runs one coroutine as a task,
reports progress and ends in exactly one of three ways: succeeded, cancelled or failed. Every
failure takes the same path: one sentence naming the grower and what failed
(`LeafError.sentence()`), with the technical details expandable in a non-modal message box.
`OperationProgress` is the progress bar with a Cancel button that shows whichever operation it
tracks.
"""

from __future__ import annotations

import enum
import logging
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from PySide6.QtCore import QCoreApplication, QObject, Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QWidget,
)

from leafdesk.core.errors import CancelledByOperator, LeafError
from leafdesk.ui import aio

if TYPE_CHECKING:
    # Imported where an operation runs, so the window paints before asyncio is imported.
    import asyncio

log = logging.getLogger(__name__)


class ProgressCallback(Protocol):
    """Progress report of an operation's work: `done` of `total` steps, failures so far."""

    def __call__(self, done: int, total: int, failed: int = 0, text: str = "") -> None: ...


Work = Callable[[ProgressCallback], Awaitable[Any]]


class OperationState(enum.Enum):
    """Life-cycle stage of an operation."""

    NEW = "new"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class OperationFailure:
    """A failed operation as the operator sees it: one sentence, and details on request.

    `error` is the exception itself, so callers can react to its kind (an `OfflineError` takes
    the window offline, a `ValidationError` marks the fields of a form).
    """

    sentence: str
    details: str
    error: BaseException


def describe_failure(
    error: BaseException, *, action: str | None = None, leaf_user: str | None = None
) -> OperationFailure:
    """Turn any exception into the one sentence and the details the operator gets."""
    if isinstance(error, LeafError):
        error.about(leaf_user=leaf_user, action=action)
        details_parts = [error.details or ""]
        if error.status_code is not None:
            details_parts.insert(0, f"HTTP {error.status_code}")
        details = "\n".join(part for part in details_parts if part)
        return OperationFailure(error.sentence(), details or type(error).__name__, error)

    # Not a Leaf error: a defect in LeafDesk. The operator still gets one sentence, and the
    # traceback goes to the details and the log.
    subject = (
        QCoreApplication.translate("Operation", "Could not {action}").format(action=action)
        if action
        else QCoreApplication.translate("Operation", "The operation failed")
    )
    if leaf_user:
        subject += QCoreApplication.translate("Operation", " for {user}").format(user=leaf_user)
    sentence = subject + QCoreApplication.translate(
        "Operation", ": LeafDesk hit an internal error. The details below help a developer."
    )
    details = "".join(traceback.format_exception(error))
    return OperationFailure(sentence, details, error)


class Operation(QObject):
    """One background operation: a coroutine with progress, cancel and one error path.

    `work` is called with a progress callback and returns an awaitable. `action` completes the
    sentence "Could not ..." ("refresh the users", "delete the Panorama credential"), and
    `leaf_user` names the grower where there is one. With `report_errors` (the default) a
    failure opens the standard error box over `parent`. Callers that show errors in place, such
    as a form marking its fields, pass False and handle `failed` themselves.
    """

    started = Signal()
    progressed = Signal(int, int, int, str)  # done, total, failed, text
    succeeded = Signal(object)  # the work's result
    failed = Signal(object)  # OperationFailure
    cancelled = Signal()
    finished = Signal()  # after any of the three outcomes

    def __init__(
        self,
        parent: QObject | None,
        title: str,
        work: Work,
        *,
        action: str | None = None,
        leaf_user: str | None = None,
        cancellable: bool = True,
        report_errors: bool = True,
    ) -> None:
        super().__init__(parent)
        self.title = title
        self.action = action
        self.leaf_user = leaf_user
        self.cancellable = cancellable
        self.report_errors = report_errors
        self.state = OperationState.NEW
        self.result: Any = None
        self.failure: OperationFailure | None = None
        self.done = 0
        self.total = 0
        self.failed_count = 0
        self.text = ""
        self._work = work
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self.state is OperationState.RUNNING

    @property
    def task(self) -> asyncio.Task[None] | None:
        """The task running the work, for tests and callers that must await the outcome."""
        return self._task

    def start(self) -> Operation:
        """Start the work as a background task; return self so calls can be chained."""
        if self.state is not OperationState.NEW:
            raise RuntimeError(f"operation {self.title!r} was already started")
        self.state = OperationState.RUNNING
        self._task = aio.spawn(self._run(), name=f"operation: {self.title}")
        self._task.add_done_callback(self._settle_if_never_ran)
        self.started.emit()
        return self

    def _settle_if_never_ran(self, task: asyncio.Task[None]) -> None:
        # A task cancelled before its first step never enters `_run`, so nothing was emitted.
        if self.state is OperationState.RUNNING and task.cancelled():
            self.state = OperationState.CANCELLED
            self.cancelled.emit()
            self.finished.emit()

    def cancel(self) -> None:
        """Request that the work stop. `cancelled` is emitted once it has stopped."""
        if self._task is not None and not self._task.done() and self.cancellable:
            log.info("Operation %r cancelled by the operator", self.title)
            self._task.cancel()

    async def wait(self) -> OperationState:
        """Wait until the operation has ended, however it ended, and return its final state."""
        import asyncio

        if self._task is not None:
            await asyncio.shield(self._task)
        return self.state

    def _report(self, done: int, total: int, failed: int = 0, text: str = "") -> None:
        self.done, self.total, self.failed_count, self.text = done, total, failed, text
        self.progressed.emit(done, total, failed, text)

    async def _run(self) -> None:
        import asyncio

        try:
            self.result = await self._work(self._report)
        except (asyncio.CancelledError, CancelledByOperator):
            self.state = OperationState.CANCELLED
            self.cancelled.emit()
        except Exception as error:  # noqa: BLE001 - the one error path catches everything
            self.failure = describe_failure(error, action=self.action, leaf_user=self.leaf_user)
            self.state = OperationState.FAILED
            log.warning(
                "Operation %r failed: %s", self.title, self.failure.sentence,
                exc_info=not isinstance(error, LeafError),
            )
            self.failed.emit(self.failure)
            if self.report_errors:
                parent = self.parent()
                show_failure(parent if isinstance(parent, QWidget) else None, self.failure)
        else:
            self.state = OperationState.SUCCEEDED
            self.succeeded.emit(self.result)
        finally:
            self.finished.emit()


def show_failure(parent: QWidget | None, failure: OperationFailure) -> QMessageBox:
    """Open the standard, non-modal error box: the sentence, with the details expandable.

    The box is opened with `open()` and deletes itself when closed, so it never blocks a
    running coroutine.
    """
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(QCoreApplication.translate("Operation", "LeafDesk"))
    box.setText(failure.sentence)
    if failure.details:
        box.setDetailedText(failure.details)
    box.setStandardButtons(QMessageBox.StandardButton.Close)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.setObjectName("operationFailureBox")
    if parent is not None:
        # Without a window manager no one activates the window again after the box closes, and
        # its shortcuts would stay dead until it was clicked.
        box.finished.connect(lambda _result: parent.window().activateWindow())
    box.open()
    return box


class OperationProgress(QWidget):
    """A compact progress bar, a line of text and a Cancel button for the operation it tracks.

    Hidden while nothing runs. Placed in the status bar by the main window; a dialog can have
    its own.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._operation: Operation | None = None

        self._label = QLabel(self)
        self._bar = QProgressBar(self)
        self._bar.setMaximumWidth(180)
        self._bar.setTextVisible(True)
        self._cancel = QPushButton(self.tr("Cancel"), self)
        # Esc is the window's Cancel refresh shortcut, so it stops a refresh but no other
        # operation, and the tooltip names no key.
        self._cancel.setToolTip(self.tr("Stop the running operation"))
        self._cancel.clicked.connect(self.cancel)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._label)
        layout.addWidget(self._bar)
        layout.addWidget(self._cancel)
        self.hide()

    @property
    def operation(self) -> Operation | None:
        return self._operation

    def track(self, operation: Operation) -> None:
        """Show `operation`'s progress until it ends, replacing any operation shown before."""
        if self._operation is not None:
            self._operation.progressed.disconnect(self._on_progress)
            self._operation.finished.disconnect(self._on_finished)
        self._operation = operation
        operation.progressed.connect(self._on_progress)
        operation.finished.connect(self._on_finished)
        self._cancel.setEnabled(operation.cancellable)
        self._label.setText(operation.title)
        self._bar.setRange(0, 0)  # busy until the first progress report gives a total
        if operation.total:
            self._on_progress(operation.done, operation.total, operation.failed_count, "")
        self.setVisible(operation.running)

    def cancel(self) -> None:
        if self._operation is not None:
            self._operation.cancel()

    def _on_progress(self, done: int, total: int, failed: int, text: str) -> None:
        if total > 0:
            self._bar.setRange(0, total)
            self._bar.setValue(done)
        label = self._operation.title if self._operation else ""
        if failed:
            label = self.tr("{title} ({failed} failed)").format(title=label, failed=failed)
        if text:
            label = f"{label}: {text}"
        self._label.setText(label)

    def _on_finished(self) -> None:
        self.hide()
