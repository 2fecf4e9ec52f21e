"""Output names, safe stems for uploaded names, PNG encoding, atomic writes that never touch an input."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from daz_depthmap.output.names import STEM_BYTES, StemClaims, output_paths, safe_stem
from daz_depthmap.output.png import NameTakenError, encode_png, save_outputs, write_atomic, write_set, write_set_named

RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}


def test_one_clash_rule_second_inputs_get_numbered_stems_whatever_their_case(tmp_path):
    claims = StemClaims()
    assert claims.claim("scene", "a", tmp_path) == "scene"
    assert claims.claim("Scene", "b", tmp_path) == "Scene-2"  # Windows and macOS: the same file name
    assert claims.claim("scene", "c", tmp_path) == "scene-3"
    assert claims.claim("scene", "a", tmp_path) == "scene", "the same input keeps its stem"
    assert claims.claim("scene", "d", tmp_path / "other") == "scene", "another folder has its own names"
    claims.release("a")
    assert claims.claim("scene", "e", tmp_path) == "scene"
    assert claims.claim("scene-2", "f", tmp_path) == "scene-2-2", "a real scene-2 does not take b's name"


def test_encode_png_writes_rgb_images(tmp_path):
    rgb = np.zeros((3, 4, 3), np.uint8)
    rgb[..., 0], rgb[1, 2] = 128, (1, 2, 3)
    path = tmp_path / "rgb.png"
    path.write_bytes(encode_png(rgb))
    back = np.asarray(Image.open(path))
    assert back.shape == (3, 4, 3) and np.array_equal(back, rgb)


def test_output_paths_beside_the_input_or_in_out_dir(tmp_path):
    depth, mask = output_paths(tmp_path / "scene.exr")
    assert (depth, mask) == (tmp_path / "scene.depth.png", tmp_path / "scene.mask.png")
    depth, _ = output_paths(tmp_path / "Shot.01.EXR", tmp_path / "out")
    assert depth == tmp_path / "out" / "Shot.01.depth.png"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("scene.exr", "scene"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\win.ini.exr", "win.ini"),
        ("x/../y.exr", "y"),
        ("..", "depth"),
        ("...", "depth"),
        ("", "depth"),
        (".hidden.exr", "hidden"),
        ("a<b>c|d?.exr", "a_b_c_d_"),
        ("na\x00me\n.exr", "na_me_"),
        ("$(rm -rf ~).exr", "_(rm -rf _)"),
        ("a..b.exr", "a.b"),
        ("  spaced  .exr", "spaced"),
        ("été.exr", "été"),
    ],
)
def test_safe_stem(name, expected):
    assert safe_stem(name) == expected


@pytest.mark.parametrize("name", ["CON", "con.exr", "NUL.txt", "aux", "COM1.exr", "lpt9.EXR", "CON .exr", "PRN.x.exr"])
def test_safe_stem_avoids_windows_reserved_names(name):
    stem = safe_stem(name)
    assert stem.split(".")[0].strip().upper() not in RESERVED
    assert stem.startswith("depth_")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_safe_stem_never_leaves_its_folder(name):
    stem = safe_stem(name)
    assert stem
    assert not re.search(r"[\\/:*?\"<>|\x00-\x1f]", stem)
    assert ".." not in stem
    assert not stem.startswith((".", " ")) and not stem.endswith((".", " "))
    assert stem.split(".")[0].upper() not in RESERVED
    assert len(stem) <= 130 and len(stem.encode("utf-8")) <= STEM_BYTES


@pytest.mark.parametrize("character", ["漢", "é", "\U00020000"])
def test_safe_stem_keeps_a_name_of_many_byte_characters_within_the_file_systems_limit(tmp_path, character):
    """Issue 16: 120 CJK characters made a 360-byte stem, and Save failed "too long" (255 bytes at most)."""
    stem = safe_stem(character * 300 + ".exr")
    assert len(stem.encode("utf-8")) <= STEM_BYTES and set(stem) == {character}
    assert len(stem.encode("utf-8")) > STEM_BYTES - 4, "cut on a character boundary, as close to the budget as it goes"
    written = save_outputs([(tmp_path / f"{stem}-999.regions.png", np.zeros((2, 2), np.uint8))])
    assert written[0].is_file()


def test_encode_png_round_trips_8_and_16_bit(tmp_path):
    for dtype, top in ((np.uint8, 255), (np.uint16, 65535)):
        image = np.linspace(0, top, 64 * 48).astype(dtype).reshape(48, 64)
        path = tmp_path / f"{dtype.__name__}.png"
        path.write_bytes(encode_png(image))
        with Image.open(path) as decoded:
            assert decoded.size == (64, 48)
            np.testing.assert_array_equal(np.asarray(decoded).astype(dtype), image)
    with pytest.raises(ValueError, match="grey or RGB uint8 or uint16"):
        encode_png(np.zeros((4, 4), np.float32))


def test_write_atomic_replaces_a_previous_output(tmp_path):
    target = tmp_path / "a.depth.png"
    target.write_bytes(b"old")
    assert write_atomic(target, b"new") == target
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["a.depth.png"]


def test_write_atomic_never_overwrites_a_protected_input(tmp_path):
    source = tmp_path / "scene.exr"
    source.write_bytes(b"precious")
    for target in (source, tmp_path / "sub" / ".." / "scene.exr"):
        with pytest.raises(OSError, match="refusing to overwrite the input scene.exr"):
            write_atomic(target, b"x", protect=[source])
    assert source.read_bytes() == b"precious"
    assert [p.name for p in tmp_path.iterdir()] == ["scene.exr"]


def test_write_atomic_leaves_no_temp_file_on_failure(tmp_path, monkeypatch):
    def refuse(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="No space left"):
        write_atomic(tmp_path / "a.depth.png", b"data")
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


def test_write_atomic_into_a_path_below_a_file_fails_cleanly(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_bytes(b"x")
    with pytest.raises(OSError):
        write_atomic(blocker / "a.depth.png", b"data")
    assert [p.name for p in tmp_path.iterdir()] == ["file"]


def test_save_outputs_writes_both_or_protects_inputs(tmp_path):
    depth = np.full((4, 5), 200, np.uint8)
    mask = np.full((4, 5), 255, np.uint8)
    written = save_outputs([(tmp_path / "d.png", depth), (tmp_path / "m.png", mask)])
    assert [p.name for p in written] == ["d.png", "m.png"]
    with pytest.raises(ValueError, match="grey or RGB"):  # nothing is written when one image cannot be encoded
        save_outputs([(tmp_path / "d2.png", depth), (tmp_path / "m2.png", np.zeros((2, 2, 2), np.uint8))])
    assert not (tmp_path / "d2.png").exists()
    with pytest.raises(OSError, match="refusing to overwrite"):
        save_outputs([(tmp_path / "d.png", depth)], protect=[tmp_path / "d.png"])


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_outputs_get_ordinary_file_permissions(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    plain = tmp_path / "plain.png"
    plain.write_bytes(b"x")
    written = write_atomic(tmp_path / "a.depth.png", b"data")
    assert oct(written.stat().st_mode & 0o777) == oct(plain.stat().st_mode & 0o777)


# ----------------------------------------------------------------------------------------------------------------
# A set is written whole or not at all (issue 16, 8)

SET_SUFFIXES = (".depth.png", ".mask.png", ".regions.png", ".test.png")


def _a_set(folder, value: int) -> list:
    return [(folder / f"scene{suffix}", np.full((4, 5), value + i, np.uint8)) for i, suffix in enumerate(SET_SUFFIXES)]


def _contents(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _failing_on_call(monkeypatch, name: str, number: int, error: BaseException) -> None:
    """``os.<name>`` raises ``error`` on its ``number``-th call (counted from now), and works otherwise."""
    real = getattr(os, name)
    calls = [0]

    def call(*args, **kwargs):
        calls[0] += 1
        if calls[0] == number:
            raise error
        return real(*args, **kwargs)

    monkeypatch.setattr(os, name, call)


@pytest.mark.parametrize("number", [1, 2, 3, 4])
def test_a_set_whose_nth_rename_fails_leaves_the_folder_exactly_as_before(tmp_path, monkeypatch, number):
    save_outputs(_a_set(tmp_path, 10))
    before = _contents(tmp_path)
    _failing_on_call(monkeypatch, "replace", number, OSError(28, "No space left on device"))
    with pytest.raises(OSError) as failed:
        save_outputs(_a_set(tmp_path, 100))
    monkeypatch.undo()
    assert _contents(tmp_path) == before
    message = str(failed.value)
    assert "No space left on device" in message and "nothing of the set was written" in message
    assert all(f"scene{suffix}" in message for suffix in SET_SUFFIXES), message
    assert failed.value.errno == 28


@pytest.mark.parametrize("number", [1, 3, 4])
def test_a_set_whose_nth_file_cannot_be_written_leaves_the_folder_exactly_as_before(tmp_path, monkeypatch, number):
    save_outputs(_a_set(tmp_path, 10))
    before = _contents(tmp_path)
    _failing_on_call(monkeypatch, "write", number, OSError(28, "No space left on device"))
    with pytest.raises(OSError, match=rf"scene{re.escape(SET_SUFFIXES[number - 1])}.*No space left on device"):
        save_outputs(_a_set(tmp_path, 100))
    monkeypatch.undo()
    assert _contents(tmp_path) == before


def test_a_new_set_that_fails_leaves_nothing_and_says_what_was_not_written(tmp_path, monkeypatch):
    _failing_on_call(monkeypatch, "replace", 3, OSError(28, "No space left on device"))
    with pytest.raises(OSError) as failed:
        save_outputs(_a_set(tmp_path, 10))
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []
    assert "nothing of the set was written" in str(failed.value) and "scene.regions.png" in str(failed.value)


def test_an_interrupted_set_is_taken_back_and_the_interrupt_goes_on(tmp_path, monkeypatch):
    save_outputs(_a_set(tmp_path, 10))
    before = _contents(tmp_path)
    _failing_on_call(monkeypatch, "replace", 2, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        save_outputs(_a_set(tmp_path, 100))
    monkeypatch.undo()
    assert _contents(tmp_path) == before


def test_a_whole_set_replaces_the_earlier_one_and_leaves_no_temporary(tmp_path):
    save_outputs(_a_set(tmp_path, 10))
    written = save_outputs(_a_set(tmp_path, 100))
    assert [p.name for p in written] == [f"scene{suffix}" for suffix in SET_SUFFIXES]
    assert sorted(_contents(tmp_path)) == sorted(p.name for p in written)
    assert np.asarray(Image.open(tmp_path / "scene.test.png"))[0, 0] == 103


@pytest.mark.skipif(os.name != "posix", reason="symbolic links")
def test_a_symlinked_output_is_replaced_without_touching_what_it_points_to(tmp_path):
    elsewhere = tmp_path / "elsewhere.png"
    elsewhere.write_bytes(b"not ours")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "scene.depth.png").symlink_to(elsewhere)
    save_outputs(_a_set(tmp_path / "out", 10)[:1])
    assert elsewhere.read_bytes() == b"not ours"
    assert not (tmp_path / "out" / "scene.depth.png").is_symlink()


def test_a_name_another_writer_takes_meanwhile_moves_the_set_to_the_next_stem(tmp_path, monkeypatch):
    """Names are taken exclusively: a file created between the check and the rename is never replaced."""
    real = os.link
    raced = []

    def another_writer_first(source, target, **kwargs):
        if str(target).endswith("scene.mask.png") and not raced:
            raced.append(target)
            Path(target).write_bytes(b"the other writer's")
        return real(source, target, **kwargs)

    monkeypatch.setattr(os, "link", another_writer_first)
    files = [(".depth.png", b"depth"), (".mask.png", b"mask")]
    written = write_set_named(tmp_path, "scene", files, (), lambda path: False)
    monkeypatch.undo()
    assert [p.name for p in written] == ["scene-2.depth.png", "scene-2.mask.png"]
    assert _contents(tmp_path) == {
        "scene-2.depth.png": b"depth",
        "scene-2.mask.png": b"mask",
        "scene.mask.png": b"the other writer's",
    }


def test_a_named_set_skips_names_it_may_not_replace_and_replaces_those_it_may(tmp_path):
    (tmp_path / "scene.mask.png").write_bytes(b"not mine")
    (tmp_path / "scene-2.depth.png").write_bytes(b"mine")
    files = [(".depth.png", b"new depth"), (".mask.png", b"new mask")]
    written = write_set_named(tmp_path, "scene", files, (), lambda path: path.name == "scene-2.depth.png")
    assert [p.name for p in written] == ["scene-2.depth.png", "scene-2.mask.png"]
    assert (tmp_path / "scene.mask.png").read_bytes() == b"not mine"
    with pytest.raises(NameTakenError):
        write_set([(tmp_path / "scene.mask.png", b"x")], may_replace=lambda path: False)
    assert (tmp_path / "scene.mask.png").read_bytes() == b"not mine"
