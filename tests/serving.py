"""Starting a server for a test: a free port on 127.0.0.1, and waiting until the server answers."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_serving(url: str, process: subprocess.Popen, seconds: float, output: Callable[[], str]) -> None:
    """Poll ``url`` until the server answers; an AssertionError with the process's ``output()`` when it exits
    first or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while True:
        assert process.poll() is None, f"the app exited:\n{output()}"
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            assert time.monotonic() < deadline, f"the app did not start:\n{output()}"
            time.sleep(0.2)
