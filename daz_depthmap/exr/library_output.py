"""Keeping OpenEXR's own printing out of our output.

OpenEXR's Python bindings print ``Warning: Exception raised reading pixel data for part N …`` to ``sys.stdout``
(with Python's print, from the thread that decodes), and its C library writes error lines to file descriptor 2.

* :func:`library_stdout_swallowed` drops what the calling thread prints while it runs, and passes every other
  thread's output through untouched: safe inside the WebUI, where other threads print too.
* :func:`native_stderr_silenced` points fd 2 at the null device while it runs. That affects the whole process, so
  only the command line (which owns its process) uses it; the WebUI relies on the layout check
  (:mod:`daz_depthmap.exr.layout`), which refuses nearly every damaged file before the library sees it. On
  Windows the library's C runtime may keep its own stderr, so a line may still appear there.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from typing import Any, TextIO

_swallowing = threading.local()
_install_lock = threading.Lock()


class _ThreadFilter:
    """A stand-in for ``sys.stdout`` that drops writes from threads that asked for it and forwards the rest."""

    def __init__(self, target: TextIO) -> None:
        self.target = target
        self.users = 0

    def write(self, text: str) -> int:
        if getattr(_swallowing, "active", False):
            return len(text)
        return self.target.write(text)

    def __getattr__(self, name: str) -> Any:  # flush, encoding, fileno, isatty ... are the real stream's
        return getattr(self.target, name)


@contextlib.contextmanager
def library_stdout_swallowed() -> Iterator[None]:
    """Drop what this thread prints to ``sys.stdout`` meanwhile; other threads print as usual."""
    with _install_lock:
        current = sys.stdout
        installed = current if isinstance(current, _ThreadFilter) else _ThreadFilter(current)
        installed.users += 1
        sys.stdout = installed
    _swallowing.active = True
    try:
        yield
    finally:
        _swallowing.active = False
        with _install_lock:
            installed.users -= 1
            if installed.users == 0 and sys.stdout is installed:
                sys.stdout = installed.target


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Send file descriptor 2 (C libraries' stderr) to the null device meanwhile — process-wide: for the command
    line only. Python's own ``sys.stderr`` keeps working for our messages once this ends."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real fd 2 (embedded, pythonw): nothing to silence
        yield
        return
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, 2)
        finally:
            os.close(null)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
