"""The files a writer made, known by what they are on disk (device and inode), not by name: what that writer may
replace when it writes again. A file another writer put there since, under the same name, is someone else's."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Hashable, Iterable
from pathlib import Path


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        found = os.lstat(path)
    except OSError:
        return None
    return found.st_dev, found.st_ino


class OwnedFiles:
    """The files each owner (a loaded file of a session, say) wrote last, by identity.

    An owner may replace a file only while the file at that name is still the one it wrote; so two owners never
    replace each other's files, and a file changed by hand since is left alone.
    """

    def __init__(self) -> None:
        self._files: dict[Hashable, dict[Path, tuple[int, int]]] = {}
        self._lock = threading.Lock()

    def may_replace(self, owner: Hashable) -> Callable[[Path], bool]:
        """Whether ``owner`` may replace the file at a path: it wrote that very file."""

        def mine(path: Path) -> bool:
            with self._lock:
                known = self._files.get(owner, {}).get(Path(os.path.abspath(path)))
            return known is not None and known == _identity(path)

        return mine

    def record(self, owner: Hashable, paths: Iterable[Path]) -> None:
        """``owner`` wrote ``paths`` just now."""
        found = {Path(os.path.abspath(p)): _identity(Path(p)) for p in paths}
        with self._lock:
            held = self._files.setdefault(owner, {})
            held.update({path: identity for path, identity in found.items() if identity is not None})

    def forget(self, owner: Hashable) -> None:
        """``owner`` is gone (a removed file): its files are nobody's to replace now."""
        with self._lock:
            self._files.pop(owner, None)
