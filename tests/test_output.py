"""Output names, safe stems for uploaded names, PNG encoding, atomic writes that never touch an input."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from daz_depthmap.output.names import StemClaims, output_paths, safe_stem
from daz_depthmap.output.png import encode_png, save_outputs, write_atomic

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
    assert len(stem) <= 130


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
