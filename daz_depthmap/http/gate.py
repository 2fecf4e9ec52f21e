"""How many API requests a server takes at once, and whose turn it is to convert.

A request counts from the moment it arrives until it is answered: while its body arrives, while it waits for its
turn, while it converts. :meth:`Gate.enter` refuses it at once when :attr:`Gate.max_in_flight` are already in
(the route answers 503 with ``Retry-After``). Waiting for a turn (:meth:`Gate.turn`) is an asyncio future on the
server's event loop, not a worker thread: the threads the page and its events (and the WebUI's own API) use stay
free, and only :attr:`Gate.slots` conversions run on them at a time.

Thread-safe, and not bound to one event loop (a test client may run each request on a loop of its own).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass


class GateTimeout(Exception):
    """The request's time ran out before its turn came."""


@dataclass(eq=False)
class _Waiter:
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]
    granted: bool = False
    gone: bool = False


class Gate:
    """``slots`` conversions at a time, ``max_in_flight`` requests in all (converting, waiting, or arriving)."""

    def __init__(self, slots: int = 1, max_in_flight: int = 4) -> None:
        if slots < 1 or max_in_flight < slots:
            raise ValueError(f"a gate needs a slot and as many requests in flight, not {slots} and {max_in_flight}")
        self.slots = slots
        self.max_in_flight = max_in_flight
        self._lock = threading.Lock()
        self._in_flight = 0
        self._running = 0
        self._waiting: deque[_Waiter] = deque()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def running(self) -> int:
        return self._running

    def enter(self) -> bool:
        """Count a request in; ``False`` (and nothing counted) when as many as allowed are in already."""
        with self._lock:
            if self._in_flight >= self.max_in_flight:
                return False
            self._in_flight += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    @contextlib.asynccontextmanager
    async def turn(self, deadline: float) -> AsyncIterator[None]:
        """Wait (first come, first served) for a conversion slot until ``deadline`` (``time.monotonic()``); hold it
        for the ``async with`` block. Raises :class:`GateTimeout` when the deadline passes first."""
        await self._acquire(deadline)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._running < self.slots and not self._waiting:
                self._running += 1
                return
            waiter = _Waiter(loop, loop.create_future())
            self._waiting.append(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(waiter.future), max(0.0, deadline - time.monotonic()))
        except (asyncio.TimeoutError, asyncio.CancelledError) as exc:
            with self._lock:
                granted = waiter.granted
                waiter.gone = True
            if granted:  # the slot came just as the wait ended: pass it on
                self._release()
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise GateTimeout from None

    def _release(self) -> None:
        with self._lock:
            while self._waiting:
                waiter = self._waiting.popleft()
                if waiter.gone:
                    continue
                try:
                    waiter.loop.call_soon_threadsafe(_resolve, waiter.future)
                except RuntimeError:  # its event loop is closed: the request is gone
                    continue
                waiter.granted = True  # the slot passes to it directly: running stays the same
                return
            self._running -= 1


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
