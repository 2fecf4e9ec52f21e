"""The server's store of sessions: tokens, owned uploads, eviction by age, memory and disk, and what a returning
user is told."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from daz_depthmap.session.store import SessionStore, UploadRefusedError
from daz_depthmap.session.workspace import Workspace


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Sized(Workspace):
    """A workspace that claims a given memory use."""

    held = 0

    @property
    def nbytes(self) -> int:
        return self.held


def _upload(tmp_path: Path, name: str, size: int) -> Path:
    folder = tmp_path / "gradio" / name
    folder.mkdir(parents=True)
    path = folder / name
    path.write_bytes(b"x" * size)
    return path


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_tokens_are_unguessable_and_open_the_same_session(clock: Clock):
    store = SessionStore(Workspace, clock=clock)
    first = store.open(None).session
    assert len(first.token) >= 24 and store.open(first.token).session is first
    assert store.open("made-up-token").session is not first  # an unknown token opens a new session, quietly
    assert store.open("made-up-token").notice is None
    assert store.get("other") is None and store.get(12) is None


def test_sessions_unused_too_long_are_evicted_with_their_uploads(clock: Clock, tmp_path: Path):
    store = SessionStore(Workspace, max_idle_seconds=600, clock=clock, root=tmp_path / "root")
    idle = store.open(None).session
    owned = store.adopt(idle, _upload(tmp_path, "a.exr", 100), "a.exr")
    assert owned.is_file() and store.upload_bytes() == 100
    clock.now += 601
    busy = store.open(None).session  # any use of the store sweeps
    assert store.get(idle.token) is None and store.get(busy.token) is busy
    assert not owned.exists() and store.upload_bytes() == 0
    back = store.open(idle.token)
    assert back.notice == "The files of this page were released after 10 minutes without use; drop them again."
    assert back.session.workspace.keys == []


def test_the_memory_budget_evicts_the_least_recently_used_first_never_the_one_in_use(clock: Clock):
    store = SessionStore(lambda: Sized(), max_memory_bytes=1000, clock=clock)
    sessions = []
    for _ in range(3):
        session = store.open(None).session
        session.workspace.held = 400
        sessions.append(session)
        clock.now += 1
    store.open(sessions[0].token)  # used again: now the most recent
    store.sweep()
    assert store.get(sessions[1].token) is None  # least recently used
    assert store.get(sessions[0].token) is sessions[0] and store.get(sessions[2].token) is sessions[2]
    assert "to make room for other sessions" in store.open(sessions[1].token).notice
    alone = SessionStore(lambda: Sized(), max_memory_bytes=10, clock=clock)
    only = alone.open(None).session
    only.workspace.held = 500
    assert alone.open(only.token).session is only, "the session being served stays, even over the budget"


def test_the_upload_budget_makes_room_or_refuses_and_deletes_the_upload(clock: Clock, tmp_path: Path):
    store = SessionStore(Workspace, max_upload_bytes=1000, clock=clock)
    old = store.open(None).session
    store.adopt(old, _upload(tmp_path, "old.exr", 600), "old.exr")
    clock.now += 1
    new = store.open(None).session
    store.adopt(new, _upload(tmp_path, "new.exr", 600), "new.exr")  # evicts the older session to fit
    assert store.get(old.token) is None and store.upload_bytes() == 600
    huge = _upload(tmp_path, "huge.exr", 2000)
    with pytest.raises(UploadRefusedError, match="huge.exr: the server's room for uploads"):
        store.adopt(new, huge, "huge.exr")
    assert not huge.exists() and store.upload_bytes() == 600


def test_adopting_moves_the_file_and_deletes_the_frameworks_copies(clock: Clock, tmp_path: Path):
    store = SessionStore(Workspace, clock=clock)
    session = store.open(None).session
    given = _upload(tmp_path, "scene.exr", 50)
    other = _upload(tmp_path, "copy", 50)
    owned = store.adopt(session, given, "../../scene.exr", [other])
    assert not given.exists() and not other.exists()
    assert owned.parent == session.folder and owned.name.endswith("scene.exr") and ".." not in owned.name
    store.forget_upload(session, owned)
    assert not owned.exists() and session.upload_bytes == 0
    store.close()
    assert session.folder is not None and not session.folder.exists()


def test_a_pending_send_expires_even_when_nothing_else_happens_to_its_session(clock: Clock):
    store = SessionStore(Workspace, clock=clock)
    session = store.open(None).session
    session.pending = SimpleNamespace(nbytes=50_000_000)
    session.pending_until = clock.now + 120
    store.open(None)
    assert session.pending is not None and store.memory_bytes() >= 50_000_000
    clock.now += 121
    store.sweep()
    assert session.pending is None and store.memory_bytes() < 50_000_000


def test_closing_removes_every_upload_and_the_folder(tmp_path: Path):
    store = SessionStore(Workspace)
    session = store.open(None).session
    owned = store.adopt(session, _upload(tmp_path, "a.exr", 10), "a.exr")
    root = owned.parent.parent
    store.close()
    assert not root.exists() and store.sessions == 0


def _upload_bytes(tmp_path: Path, name: str, data: bytes) -> Path:
    """A framework's temporary upload in a folder of its own (each upload of the same name gets another)."""
    folder = Path(tempfile.mkdtemp(dir=tmp_path, prefix="gradio-"))
    path = folder / name
    path.write_bytes(data)
    return path


def test_after_removing_the_last_file_the_next_upload_still_works(clock: Clock, tmp_path: Path):
    """Issue 16 (6): removing the session's last file deleted its upload folder while the session still used it."""
    store = SessionStore(Workspace, clock=clock, root=tmp_path / "root")
    session = store.open(None).session
    only = store.adopt(session, _upload_bytes(tmp_path, "a.exr", b"a"), "a.exr")
    store.forget_upload(session, only)
    assert not only.exists() and session.folder is not None and session.folder.is_dir()
    again = store.adopt(session, _upload_bytes(tmp_path, "b.exr", b"b"), "b.exr")
    assert again.read_bytes() == b"b" and again.parent == session.folder
    shutil.rmtree(session.folder)  # gone for another reason (a temp cleaner): made again
    third = store.adopt(session, _upload_bytes(tmp_path, "c.exr", b"c"), "c.exr")
    assert third.read_bytes() == b"c" and third.parent == session.folder


def test_stored_upload_names_only_grow_and_never_replace_a_kept_upload(clock: Clock, tmp_path: Path):
    """Issue 16 (6): names were numbered by the current file count, so a re-upload after a removal overwrote a
    file still loaded."""
    store = SessionStore(Workspace, clock=clock, root=tmp_path / "root")
    session = store.open(None).session
    a = store.adopt(session, _upload_bytes(tmp_path, "a.exr", b"first a"), "a.exr")
    b = store.adopt(session, _upload_bytes(tmp_path, "b.exr", b"first b"), "b.exr")
    store.forget_upload(session, a)
    again = store.adopt(session, _upload_bytes(tmp_path, "b.exr", b"second b"), "b.exr")
    assert again != b and b.read_bytes() == b"first b" and again.read_bytes() == b"second b"
    store.forget_upload(session, again)
    assert b.read_bytes() == b"first b", "removing one upload never deletes another's file"
    names = [a.name, b.name, again.name]
    assert len(set(names)) == 3 and names == sorted(names)
    assert store.upload_bytes() == len(b"first b")


def test_a_stored_name_taken_by_a_stray_file_is_skipped_not_replaced(clock: Clock, tmp_path: Path):
    store = SessionStore(Workspace, clock=clock, root=tmp_path / "root")
    session = store.open(None).session
    first = store.adopt(session, _upload_bytes(tmp_path, "a.exr", b"a"), "a.exr")
    stray = first.with_name(first.name.replace("001-", "002-"))
    stray.write_bytes(b"stray")
    second = store.adopt(session, _upload_bytes(tmp_path, "a.exr", b"a2"), "a.exr")
    assert second != stray and stray.read_bytes() == b"stray" and second.read_bytes() == b"a2"


def test_download_copies_go_when_no_session_offers_them_any_more(clock: Clock, tmp_path: Path):
    store = SessionStore(Workspace, clock=clock)
    one, two = store.open(None).session, store.open(None).session
    copies = {}
    for name in ("a", "b", "shared"):
        copies[name] = tmp_path / "cache" / name / f"{name}.depth.png"
        copies[name].parent.mkdir(parents=True)
        copies[name].write_bytes(b"png")
    store.offer_downloads(one, "save", [copies["a"], copies["shared"]])
    store.offer_downloads(two, "save", [copies["shared"]])
    store.offer_downloads(one, "save", [copies["b"]])  # the page offers others now
    assert not copies["a"].exists() and not copies["a"].parent.exists()
    assert copies["shared"].is_file(), "the other session still offers the same copy"
    store.release(two.token)
    assert not copies["shared"].exists() and copies["b"].is_file()
    store.close()
    assert not copies["b"].exists()
