"""Background operations: progress, the three outcomes, and the one error path."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from leafdesk.core.errors import OfflineError, ServerError
from leafdesk.ui import aio
from leafdesk.ui.operations import (
    Operation,
    OperationProgress,
    OperationState,
    describe_failure,
)


def test_spawn_keeps_task_until_done(run_async):
    async def work():
        await asyncio.sleep(0.01)
        return 42

    async def scenario():
        task = aio.spawn(work())
        assert task in aio.running_tasks()
        return await task

    assert run_async(scenario()) == 42
    assert aio.running_tasks() == []


def test_operation_reports_progress_and_result(qtbot, run_async):
    parent = QWidget()
    qtbot.addWidget(parent)
    seen: list[tuple[int, int, int, str]] = []

    async def work(progress):
        for step in range(1, 4):
            await asyncio.sleep(0)
            progress(step, 3, 0, "")
        return "done"

    operation = Operation(parent, "Count", work, action="count")
    operation.progressed.connect(lambda *args: seen.append(args))
    results: list[object] = []
    operation.succeeded.connect(results.append)

    operation.start()
    assert operation.running
    run_async(operation.wait())

    assert operation.state is OperationState.SUCCEEDED
    assert results == ["done"]
    assert seen[-1] == (3, 3, 0, "")


def test_operation_cancel_ends_cancelled(qtbot, run_async):
    progress_widget = OperationProgress()
    qtbot.addWidget(progress_widget)

    async def work(progress):
        progress(0, 10)
        await asyncio.sleep(30)

    operation = Operation(None, "Slow", work)
    cancelled: list[bool] = []
    operation.cancelled.connect(lambda: cancelled.append(True))
    operation.start()
    progress_widget.track(operation)
    assert progress_widget.isVisibleTo(progress_widget.parentWidget() or progress_widget)

    async def scenario():
        await asyncio.sleep(0.05)
        progress_widget.cancel()
        await operation.wait()

    run_async(scenario(), timeout=5)
    assert operation.state is OperationState.CANCELLED
    assert cancelled == [True]
    assert progress_widget.isHidden()


def test_operation_failure_names_grower(qtbot, run_async):
    parent = QWidget()
    qtbot.addWidget(parent)

    async def work(progress):
        raise ServerError("Leaf answered 503 three times", status_code=503,
                          details="GET /users/abc/panorama-credentials")

    operation = Operation(parent, "Re-check", work, action="re-check the connection",
                          leaf_user="Ada Lovelace")
    failures = []
    operation.failed.connect(failures.append)
    operation.start()
    run_async(operation.wait())

    assert operation.state is OperationState.FAILED
    sentence = failures[0].sentence
    assert sentence == ("Could not re-check the connection for Ada Lovelace: "
                        "Leaf answered 503 three times.")
    assert "HTTP 503" in failures[0].details

    # The one error path: a non-modal box with the sentence, details expandable.
    boxes = [w for w in QApplication.topLevelWidgets()
             if isinstance(w, QMessageBox) and w.objectName() == "operationFailureBox"]
    assert boxes and boxes[-1].text() == sentence
    assert "GET /users/abc" in boxes[-1].detailedText()
    assert boxes[-1].windowModality() != Qt.WindowModality.ApplicationModal
    for box in boxes:
        box.close()


def test_internal_error_still_one_sentence():
    failure = describe_failure(KeyError("x"), action="refresh the users")
    assert failure.sentence.startswith("Could not refresh the users: LeafDesk hit an internal")
    assert "KeyError" in failure.details


def test_offline_error_kept_for_callers():
    failure = describe_failure(OfflineError("Leaf cannot be reached"), action="refresh the users")
    assert isinstance(failure.error, OfflineError)
    assert failure.sentence == "Could not refresh the users: Leaf cannot be reached."
