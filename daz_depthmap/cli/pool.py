"""``--jobs N``: the items of a batch converted in N worker processes, their outcomes given back in input order.

Each item is one task: a worker runs :func:`~daz_depthmap.cli.batch.run_task` (read, map, write all or nothing)
and sends back its :class:`~daz_depthmap.cli.batch.Outcome` (plain data: the lines to print, no pixels). Workers are
started with ``forkserver`` where the platform has it (Linux; one server process imports the package once, each
worker is forked from it), else ``spawn`` (Windows, macOS); never ``fork``, which would copy a host's threads
(the WebUI's). Memory stays bounded: a worker converts one item at a time, so at most N items are in memory at
once; at most 2N are dispatched ahead of the one printed next. Each worker decodes EXRs on one thread (in-process,
OpenEXR uses up to 8): N workers with N threads each would only contend for the CPUs.

Ctrl+C: the parent passes the interrupt on to its workers; a worker converting an item stops it (its outputs are
written through temporaries all or nothing, so nothing half-written is left), an idle worker ignores it, and the
pool is shut down before the parent says how far the batch got.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import forkserver
from types import FrameType

from .batch import Outcome, Task, run_task

#: Whether this worker is converting an item (then Ctrl+C stops it; idle, Ctrl+C is ignored).
_busy = False


def cpu_count() -> int:
    """The CPUs this process may run on (the default of ``--jobs``)."""
    counted = getattr(os, "process_cpu_count", None)  # Python 3.13
    if counted is not None:
        return counted() or 1
    with contextlib.suppress(AttributeError, OSError):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def _on_interrupt(signum: int, frame: FrameType | None) -> None:
    global _busy
    if _busy:
        _busy = False  # once per item: a second Ctrl+C must not cut short the taking back of its temporaries
        raise KeyboardInterrupt


def _start_worker() -> None:
    signal.signal(signal.SIGINT, _on_interrupt)
    with contextlib.suppress(Exception):  # one decoding thread per worker: N workers already use the N CPUs
        import OpenEXR

        if callable(getattr(OpenEXR, "set_global_thread_count", None)):
            OpenEXR.set_global_thread_count(1)


def _work(task: Task) -> Outcome:
    global _busy
    try:
        _busy = True
        return run_task(task)
    finally:
        _busy = False


def _context() -> multiprocessing.context.BaseContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["daz_depthmap.cli.batch"])
        with _born_deaf():  # the server's workers are born with its handlers
            forkserver.ensure_running()
        return context
    return multiprocessing.get_context("spawn")


def outcomes(tasks: Sequence[Task], jobs: int) -> Iterator[Outcome]:
    """The outcome of each task, in order: in this process with ``jobs`` 1 (or a single task), else in
    ``min(jobs, len(tasks))`` worker processes. Closing the iterator early (Ctrl+C in the caller) interrupts the
    workers and waits for them."""
    workers = min(jobs, len(tasks))
    if workers <= 1:
        for task in tasks:
            yield run_task(task)
        return
    pool = ProcessPoolExecutor(workers, mp_context=_context(), initializer=_start_worker)
    finished = False
    try:
        pending: deque[Future[Outcome]] = deque()
        queued = iter(tasks)
        for task in queued:
            pending.append(_submit(pool, task, workers))
            if len(pending) >= 2 * workers:
                break
        while pending:
            outcome = _result(pending.popleft())
            for task in queued:
                pending.append(_submit(pool, task, workers))
                break
            yield outcome
        finished = True
    finally:
        if not finished:
            _interrupt(pool)
        pool.shutdown(wait=True, cancel_futures=True)


@contextlib.contextmanager
def _born_deaf() -> Iterator[None]:
    """Ignore Ctrl+C while worker processes are started (a worker may be started by any submit), so that they start
    ignoring it (an ignored signal stays ignored across exec, and Python then installs no handler of its own):
    a Ctrl+C while a worker is still importing would otherwise print its traceback. Workers then take Ctrl+C only
    while converting (:func:`_start_worker`). A Ctrl+C in these few milliseconds (while the first
    N items are dispatched) is lost."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _submit(pool: ProcessPoolExecutor, task: Task, workers: int) -> Future[Outcome]:
    try:
        if len(getattr(pool, "_processes", None) or ()) >= workers:
            return pool.submit(_work, task)  # all workers started
        with _born_deaf():
            return pool.submit(_work, task)
    except BrokenProcessPool as exc:  # said for each item left, as for the one that broke it
        failed: Future[Outcome] = Future()
        failed.set_exception(exc)
        return failed


def _result(future: Future[Outcome]) -> Outcome:
    try:
        return future.result()
    except BrokenProcessPool as exc:  # a worker killed (out of memory, a crash in a library): this item's line
        return Outcome("", error=f"the worker process converting it died ({exc})")


def _interrupt(pool: ProcessPoolExecutor) -> None:
    """Pass Ctrl+C on to the pool's workers (the ones this process started)."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            if process.pid is not None and process.is_alive():
                os.kill(process.pid, signal.SIGINT)
