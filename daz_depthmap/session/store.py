"""The browser sessions of one server, bounded in memory, disk and age.

gradio 3 keeps every session's ``gr.State`` for as long as the server runs and keeps every upload on disk, so a
long-running WebUI would grow without end. The tab's ``gr.State`` therefore holds only an unguessable token; the
:class:`SessionStore` holds each token's workspace, owns one copy of each file uploaded into it (gradio's own
copies are deleted), and evicts sessions that went unused too long or that do not fit the memory and disk budgets,
oldest use first — deleting their uploads and the download copies of their outputs with them. A user who comes
back to an evicted session is told why and what to do. The token also addresses a session from an HTTP route.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import secrets
import shutil
import sys
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..canvas.beauty import IMAGE_SUFFIXES
from ..output.names import cut_to_bytes, safe_stem
from .workspace import Workspace

log = logging.getLogger(__name__)

#: Sessions unused this long are evicted (seconds).
MAX_IDLE_SECONDS = 60 * 60
#: Preview data (and pending sends) of all sessions together, in bytes: about 90 loaded 4096² files, 15 with
#: compress_map on.
MAX_MEMORY_BYTES = 256 * 1024 * 1024
#: Uploaded files of all sessions together, in bytes.
MAX_UPLOAD_BYTES = 8 * 1024 * 1024 * 1024
#: How many evicted tokens are remembered to tell a returning user why their files are gone.
_REMEMBERED = 4096


class UploadRefusedError(ValueError):
    """An upload that does not fit the server's upload budget even after evicting every other session."""


@dataclass
class Session:
    """One browser session: its workspace, the folder holding its uploads, and a send between its steps."""

    token: str
    workspace: Workspace
    last_used: float
    folder: Path | None = None
    upload_bytes: int = 0
    #: uploads stored so far: numbers their stored names, which therefore only grow
    uploads_made: int = 0
    #: the download copies its page offers, by what they are ("save", "recipe"): deleted when replaced or released
    downloads: dict[str, tuple[Path, ...]] = field(default_factory=dict)
    #: a "Send to …" between its steps (see daz_depthmap.webui.send.depth); dropped when it expires
    pending: Any = None
    pending_until: float = 0.0
    lock: threading.RLock = field(default_factory=threading.RLock)

    @property
    def nbytes(self) -> int:
        """Memory held: the workspace's preview data and a pending send's images."""
        held = getattr(self.pending, "nbytes", 0) if self.pending is not None else 0
        return self.workspace.nbytes + int(held)


@dataclass(frozen=True)
class Opened:
    """A session handed to a handler, and why a new one replaced the token's when it was evicted."""

    session: Session
    notice: str | None = None


class SessionStore:
    """Sessions by token, with their uploads, within memory, disk and age limits.

    Parameters
    ----------
    new_workspace:
        Makes the workspace of a new session (the host's defaults and pixel limit).
    max_idle_seconds, max_memory_bytes, max_upload_bytes:
        The limits; a session over them is evicted, least recently used first (never the one being served).
    root:
        Folder for uploads (a new temporary folder when ``None``, removed by :meth:`close`).
    clock:
        Seconds, monotonic (tests pass their own).
    """

    def __init__(
        self,
        new_workspace: Callable[[], Workspace],
        max_idle_seconds: float = MAX_IDLE_SECONDS,
        max_memory_bytes: int = MAX_MEMORY_BYTES,
        max_upload_bytes: int = MAX_UPLOAD_BYTES,
        root: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.new_workspace = new_workspace
        self.max_idle_seconds = max_idle_seconds
        self.max_memory_bytes = max_memory_bytes
        self.max_upload_bytes = max_upload_bytes
        self.clock = clock
        self._root = root
        self._own_root = root is None
        self._sessions: OrderedDict[str, Session] = OrderedDict()  # least recently used first
        self._gone: OrderedDict[str, str] = OrderedDict()  # evicted token -> why
        self._lock = threading.RLock()
        self._closed = False

    # ----------------------------------------------------------------------------------------------------------

    def open(self, token: Any) -> Opened:
        """The session of ``token`` (marked as used now), or a new one when there is none.

        When the token's session was evicted, the new session comes with a notice saying why its files are gone.
        """
        with self._lock:
            now = self.clock()
            session = self._sessions.get(token) if isinstance(token, str) else None
            notice = None
            if session is None:
                why = self._gone.pop(token, None) if isinstance(token, str) else None
                if why is not None:
                    notice = f"The files of this page were released {why}; drop them again."
                session = Session(secrets.token_urlsafe(18), self.new_workspace(), now)
                self._sessions[session.token] = session
            session.last_used = now
            self._sessions.move_to_end(session.token)
            self._evict(keep=session.token)
            return Opened(session, notice)

    def get(self, token: Any, touch: bool = False) -> Session | None:
        """The session of ``token`` without creating one (an HTTP route's look-up); ``touch`` marks it used now
        (the preview route: a page whose slider moves is in use)."""
        with self._lock:
            session = self._sessions.get(token) if isinstance(token, str) else None
            if session is not None and touch:
                session.last_used = self.clock()
                self._sessions.move_to_end(session.token)
            return session

    def adopt(self, session: Session, path: str | os.PathLike[str], name: str, copies: Iterable[Path] = ()) -> Path:
        """Take ownership of an uploaded file: it moves into the session's folder, and ``copies`` of it (the web
        framework's other temporary copies) are deleted. Returns the file's new path.

        Stored names are numbered and only grow within a session (``001-a.exr``, ``002-b.exr``, ...), each created
        exclusively: a new upload never takes the name of one still kept, even after a removal. The session's
        folder is made again when it is gone.

        Raises
        ------
        UploadRefusedError
            When the file does not fit the upload budget even after evicting every other session (the file and its
            copies are deleted).
        """
        source = Path(path)
        size = source.stat().st_size
        try:
            with self._lock:
                self._evict(keep=session.token, extra_upload=size)
                if self._upload_total() + size > self.max_upload_bytes:
                    raise UploadRefusedError(
                        f"{name}: the server's room for uploads ({self.max_upload_bytes / 2**30:.1f} GiB) is full; "
                        "remove files you no longer need and try again"
                    )
                target = self._reserve(session, name)
                try:
                    _move_into(source, target)
                except BaseException:
                    target.unlink(missing_ok=True)
                    raise
                session.upload_bytes += size
                return target
        finally:
            for leftover in (source, *copies):  # the source is gone after a move; on failure it goes too
                _unlink(Path(leftover))

    def forget_upload(self, session: Session, path: Path) -> None:
        """Delete one of the session's uploads (a removed file); the session's folder stays."""
        if session.folder is not None and path.parent == session.folder and path.is_file():
            size = path.stat().st_size
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:  # another process may hold it (Windows): it stays, nothing breaks
                log.info("daz_depthmap: could not delete %s (%s)", path, exc)
                return
            session.upload_bytes = max(0, session.upload_bytes - size)

    def offer_downloads(self, session: Session, kind: str, copies: Iterable[Path]) -> None:
        """The download copies of the session's outputs its page offers now as ``kind`` (``"save"``,
        ``"recipe"``): copies the web framework made for this page alone. The ones it offered before as ``kind``
        are deleted, and all of them when the session is released or the store closed (a copy another session
        offers too, of the same bytes, stays until that one lets it go)."""
        with self._lock:
            before = session.downloads.get(kind, ())
            session.downloads[kind] = tuple(Path(p) for p in copies)
            self._delete_downloads(set(before) - set(session.downloads[kind]))

    def release(self, token: Any, why: str = "when the page was closed") -> bool:
        """Evict one session now (its page was closed); ``True`` when there was one."""
        with self._lock:
            session = self._sessions.get(token) if isinstance(token, str) else None
            if session is None:
                return False
            self._drop(session, why)
        _trim_heap()
        return True

    def sweep(self) -> None:
        """Evict what is over the limits now (also done at every :meth:`open`)."""
        with self._lock:
            self._evict(keep=None)

    def close(self) -> None:
        """Evict every session and delete the uploads folder and the download copies (the server stops, or the
        WebUI reloads its UI)."""
        with self._lock:
            for session in list(self._sessions.values()):
                self._drop(session, "when the server restarted")
            self._closed = True
            if self._own_root and self._root is not None:
                shutil.rmtree(self._root, ignore_errors=True)
                self._root = None

    @property
    def sessions(self) -> int:
        return len(self._sessions)

    def memory_bytes(self) -> int:
        """Memory the sessions hold (their preview data and pending sends)."""
        with self._lock:
            return sum(s.nbytes for s in self._sessions.values())

    def upload_bytes(self) -> int:
        with self._lock:
            return self._upload_total()

    # ----------------------------------------------------------------------------------------------------------

    def _upload_total(self) -> int:
        return sum(s.upload_bytes for s in self._sessions.values())

    def _folder(self, session: Session) -> Path:
        """The session's upload folder, made (again) when it does not exist."""
        if self._root is None:
            self._root = Path(tempfile.mkdtemp(prefix="daz_depthmap-uploads-"))
        folder = session.folder or self._root / session.token
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        session.folder = folder
        return folder

    def _reserve(self, session: Session, name: str) -> Path:
        """A new, empty file in the session's folder for an upload called ``name``, under a number never used
        before in this session (created exclusively: a file that is there already is never taken)."""
        folder = self._folder(session)
        stem = cut_to_bytes(safe_stem(name)[:60], 120)
        while True:
            session.uploads_made += 1
            target = folder / f"{session.uploads_made:03d}-{stem}{_kept_suffix(name)}"
            try:
                os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600))
            except FileExistsError:
                continue
            return target

    def _evict(self, keep: str | None, extra_upload: int = 0) -> None:
        now = self.clock()
        dropped = False
        for session in list(self._sessions.values()):
            if session.pending is not None and session.pending_until <= now:
                session.pending = None  # a send interrupted between its steps
            idle = now - session.last_used
            if session.token != keep and idle > self.max_idle_seconds:
                self._drop(session, f"after {idle / 60:.0f} minutes without use")
                dropped = True
        for session in list(self._sessions.values()):  # least recently used first
            over_memory = sum(s.nbytes for s in self._sessions.values()) > self.max_memory_bytes
            over_disk = self._upload_total() + extra_upload > self.max_upload_bytes
            if not (over_memory or over_disk):
                break
            if session.token != keep:
                self._drop(session, "to make room for other sessions on this server")
                dropped = True
        if dropped:
            _trim_heap()

    def _drop(self, session: Session, why: str) -> None:
        self._sessions.pop(session.token, None)
        self._gone[session.token] = why
        while len(self._gone) > _REMEMBERED:
            self._gone.popitem(last=False)
        session.pending = None
        if session.folder is not None:
            shutil.rmtree(session.folder, ignore_errors=True)
        offered = {path for copies in session.downloads.values() for path in copies}
        session.downloads = {}
        self._delete_downloads(offered)
        log.info("daz_depthmap: released a session %s", why)

    def _delete_downloads(self, paths: set[Path]) -> None:
        """Delete download copies no live session offers, with the folder the framework made for each."""
        offered = {path for s in self._sessions.values() for copies in s.downloads.values() for path in copies}
        for path in paths - offered:
            try:
                path.unlink(missing_ok=True)
                with contextlib.suppress(OSError):  # a folder of its own (gradio: <cache>/<sha1>/NAME), if empty
                    path.parent.rmdir()
            except OSError as exc:  # held open by a download still running (Windows): it stays
                log.info("daz_depthmap: could not delete %s (%s)", path, exc)


def _unlink(path: Path) -> None:
    """Delete a temporary upload file, and its folder when that is a now empty folder of the system's temp dir (web
    frameworks keep each upload in a folder of its own)."""
    try:
        path.unlink(missing_ok=True)
        parent = path.parent
        temp = Path(tempfile.gettempdir()).resolve()
        if parent.resolve() != temp and temp in parent.resolve().parents and not any(parent.iterdir()):
            parent.rmdir()
    except OSError as exc:  # another process may hold it (Windows): it stays, nothing breaks
        log.info("daz_depthmap: could not delete %s (%s)", path, exc)


def _move_into(source: Path, target: Path) -> None:
    """Move ``source`` onto ``target`` (the empty file reserved for it): a rename, or a copy across file systems."""
    try:
        os.replace(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _trim_heap() -> None:
    """Give freed heap back to the system (glibc keeps it otherwise); a no-op elsewhere."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):  # musl or another libc: nothing to trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _kept_suffix(name: str) -> str:
    """The suffix an upload is stored under: a render image keeps its own (it is read by it), anything else is
    stored as ``.exr`` (whatever it is called, it is read as one and refused by its contents)."""
    suffix = Path(name).suffix.lower()
    return suffix if suffix in IMAGE_SUFFIXES else ".exr"
