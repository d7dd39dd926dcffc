"""The glue between Qt and asyncio: the one module that imports qasync.

It creates the QApplication, creates the qasync event loop over it, starts coroutines from Qt
slots with `spawn()` (keeping a strong reference to each task until it ends and logging what it
raised), and runs the loop. Everything else in the window calls `spawn()` and never touches
qasync.

asyncio and qasync are imported when the loop is created, so a window that needs no coroutine
before its first paint paints without them (an estimated 20 to 25 ms of imports, measured with
`python -X importtime`). `run_forever()` then runs Qt alone until `call_when_running()` or
`event_loop()` requests the loop.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

if TYPE_CHECKING:
    import asyncio

log = logging.getLogger(__name__)

T = TypeVar("T")

# asyncio keeps only weak references to tasks, so a fire-and-forget task started from a slot
# could be garbage-collected mid-flight without this set.
_tasks: set[asyncio.Task[Any]] = set()
_loop: asyncio.AbstractEventLoop | None = None
# Callbacks from `call_when_running()` that wait for the loop, and whether `run_forever()`
# runs Qt without the loop until one arrives.
_waiting_callbacks: list[Callable[[], Any]] = []
_running_qt_alone = False


def application(argv: Sequence[str] | None = None) -> QApplication:
    """Return the running QApplication, creating it (with `argv`) when there is none."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(list(argv) if argv is not None else sys.argv[:1])
    return app  # type: ignore[return-value]


def event_loop(app: QApplication | None = None) -> asyncio.AbstractEventLoop:
    """Return the qasync event loop over `app`, creating and installing it on first call.

    The same loop serves the whole process (and the whole test run): Qt objects and tasks
    created on one loop must not be driven by another.
    """
    global _loop
    if _loop is not None and not _loop.is_closed():
        return _loop

    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    import qasync

    _loop = qasync.QEventLoop(app or application())
    _loop.set_exception_handler(_log_loop_exception)
    # qasync's own default executor runs QThreads that nothing joins, and a QThread still
    # alive while the interpreter shuts down can crash it. asyncio sends DNS lookups
    # (getaddrinfo) to this executor; Python's pool threads are joined at exit.
    _loop.set_default_executor(ThreadPoolExecutor(max_workers=4, thread_name_prefix="leafdesk-io"))
    asyncio.set_event_loop(_loop)
    if _running_qt_alone:
        # Tasks only make progress while the loop runs, so `run_forever()` starts it now and
        # then calls the waiting callbacks.
        QApplication.exit(0)
    else:
        _schedule_waiting_callbacks(_loop)
    return _loop


def call_when_running(callback: Callable[[], Any]) -> None:
    """Call `callback` from the event loop, once the asyncio loop exists.

    With the loop created, `callback` runs in the next Qt event loop iteration. Before that,
    it waits: `run_forever()` creates and starts the loop and then calls it, so the callback
    may spawn tasks. Outside `run_forever()`, the call that creates the loop schedules it.
    """
    if _loop is not None and not _loop.is_closed():
        QTimer.singleShot(0, callback)
        return
    _waiting_callbacks.append(callback)
    if _running_qt_alone:
        QApplication.exit(0)


def spawn(coro: Coroutine[Any, Any, T], *, name: str | None = None) -> asyncio.Task[T]:
    """Start `coro` as a task on the window's event loop and keep it alive until it ends.

    An exception the task raises is logged when the task ends, so work started from a slot
    cannot fail silently. A cancelled task is not an error.
    """
    loop = event_loop()
    task = loop.create_task(coro, name=name)
    _tasks.add(task)
    task.add_done_callback(_forget)
    return task


def running_tasks() -> list[asyncio.Task[Any]]:
    """Return the tasks started with `spawn()` that have not finished."""
    return [task for task in _tasks if not task.done()]


def run_forever() -> int:
    """Run the Qt event loop (and with it every task) until the application quits.

    Without an asyncio loop yet, Qt runs alone until `call_when_running()` or `event_loop()`
    requests one, and the qasync loop takes over from there. If the application quits first,
    no loop is created. The loop stays open afterwards, so shutdown work can still
    `run_until_complete()`; call `close()` last.
    """
    global _running_qt_alone
    if (_loop is None or _loop.is_closed()) and not _waiting_callbacks:
        _running_qt_alone = True
        try:
            result = application().exec()
        finally:
            _running_qt_alone = False
        if (_loop is None or _loop.is_closed()) and not _waiting_callbacks:
            return int(result or 0)  # the application quit before anything needed the loop

    loop = event_loop()
    _schedule_waiting_callbacks(loop)
    result = loop.run_forever()
    return int(result or 0)


def close() -> None:
    """Close the event loop for good; the process is about to end."""
    global _loop
    if _loop is not None and not _loop.is_closed():
        _loop.close()
    _loop = None


def run_until_complete(coro: Coroutine[Any, Any, T]) -> T:
    """Run the event loop until `coro` finishes and return its result.

    Used by the self-test, shutdown and the tests. It must not be called while the loop
    already runs, so never from a slot or a coroutine.
    """
    # qasync's own run_until_complete processes Qt events once more after the loop has stopped
    # running; a task woken then fails with "no running event loop". Stopping from the
    # future's callback leaves those events queued for the next run instead.
    import asyncio

    loop = event_loop()
    future = asyncio.ensure_future(coro, loop=loop)

    def stop(_future: asyncio.Future[T]) -> None:
        loop.stop()

    future.add_done_callback(stop)
    try:
        loop.run_forever()
    finally:
        future.remove_done_callback(stop)
    if not future.done():
        raise RuntimeError("the event loop stopped before the coroutine finished")
    return future.result()


async def cancel_all(timeout: float = 5.0) -> None:
    """Cancel every task started with `spawn()` and wait (up to `timeout` seconds) for them."""
    import asyncio

    pending = [task for task in _tasks if not task.done() and task is not asyncio.current_task()]
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending, timeout=timeout)


def _schedule_waiting_callbacks(loop: asyncio.AbstractEventLoop) -> None:
    for callback in _waiting_callbacks:
        loop.call_soon(callback)
    _waiting_callbacks.clear()


def _forget(task: asyncio.Task[Any]) -> None:
    _tasks.discard(task)
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        log.error("Background task %s failed", task.get_name(), exc_info=error)


def _log_loop_exception(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    error = context.get("exception")
    message = context.get("message", "Unhandled error in the event loop")
    if error is not None:
        log.error("%s", message, exc_info=error)
    else:
        log.error("%s", message)
