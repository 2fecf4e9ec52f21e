"""The command line on real and generated files: names, exit codes, every option's visible effect."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import OpenEXR
import pytest
from PIL import Image

from daz_depthmap.cli.main import main
from daz_depthmap.depth.histogram import suggest_cutoff
from daz_depthmap.depth.mapping import depth_stats
from daz_depthmap.exr import read_depth
from tests.synthetic import daz_like_depth, write_depth_exr

ADVICE_LINE = re.compile(r"^\*\* - (\d\d) - (\d+\.\d\d)% - ([0-9.e+-]+)$")


def run(*args: object) -> tuple[int, str, str]:
    """Run the CLI in-process; returns (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    status = main([str(a) for a in args], out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def raw_depth(path) -> np.ndarray:
    """The Y channel of a generated file, read with the bindings directly (not with the code under test)."""
    return np.asarray(OpenEXR.File(str(path), separate_channels=True).channels()["Y"].pixels, np.float32)


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def listing(folder) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


# ----------------------------------------------------------------------------------------------------------------
# As a program (subprocess), on the real files


def test_program_batch_goes_on_after_a_bad_file(shared_exr_dir, tmp_path, python_runner):
    good1 = shared_exr_dir / "synthetic_daz_Y_half_zip_1200.exr"
    bad = shared_exr_dir / "oei_v2_LowResLeftView_Balls_deep.exr"
    good2 = shared_exr_dir / "blender_crowskull_RGBAZ_f32_pxr24_1920x1080.exr"
    before = {p: digest(p) for p in (good1, bad, good2)}
    out_dir = tmp_path / "out"
    proc = python_runner(["-m", "daz_depthmap", good1, bad, good2, "--out_dir", out_dir, "--mask"], timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert re.search(r"\[2/3\] oei_v2_LowResLeftView_Balls_deep\.exr: error: .*deep", proc.stderr), proc.stderr
    assert "[1/3] synthetic_daz_Y_half_zip_1200.exr" in proc.stdout
    assert "[3/3] blender_crowskull_RGBAZ_f32_pxr24_1920x1080.exr" in proc.stdout
    assert "2 of 3 files written" in proc.stdout
    assert listing(out_dir) == {
        "synthetic_daz_Y_half_zip_1200.depth.png",
        "synthetic_daz_Y_half_zip_1200.mask.png",
        "blender_crowskull_RGBAZ_f32_pxr24_1920x1080.depth.png",
        "blender_crowskull_RGBAZ_f32_pxr24_1920x1080.mask.png",
    }
    assert {p: digest(p) for p in (good1, bad, good2)} == before


def test_program_exit_zero_when_all_written(daz_exr, python_runner, png_reader):
    proc = python_runner(["-m", "daz_depthmap", daz_exr])
    assert proc.returncode == 0, proc.stderr
    out = daz_exr.with_name("figure.depth.png")
    assert png_reader(out).shape == raw_depth(daz_exr).shape


def test_real_blender_file_maps_z(shared_exr_dir, tmp_path, png_reader):
    path = shared_exr_dir / "blender_crowskull_RGBAZ_f32_pxr24_1920x1080.exr"
    status, out, err = run(path, "--out_dir", tmp_path)
    assert status == 0, err
    assert "channel Z" in out and "1920x1080" in out
    png = png_reader(tmp_path / "blender_crowskull_RGBAZ_f32_pxr24_1920x1080.depth.png")
    z = np.asarray(OpenEXR.File(str(path), separate_channels=True).channels()["Z"].pixels)
    assert png.shape == (1080, 1920) and png.dtype == np.uint8
    assert np.all(png[z >= 1e9] == 0), "Blender's 1e10 background is black"
    assert png[z == z[z < 1e9].min()].min() == 255


# ----------------------------------------------------------------------------------------------------------------
# Names and places


def test_outputs_are_named_after_the_input_next_to_it(daz_exr, png_reader):
    status, out, err = run(daz_exr)
    assert status == 0, err
    assert listing(daz_exr.parent) == {"figure.exr", "figure.depth.png"}
    assert "figure.depth.png" in out
    depth = png_reader(daz_exr.with_name("figure.depth.png"))
    assert depth.dtype == np.uint8 and depth.shape == raw_depth(daz_exr).shape

    status, _, _ = run(daz_exr, "--mask")
    assert status == 0
    assert listing(daz_exr.parent) == {"figure.exr", "figure.depth.png", "figure.mask.png"}


def test_out_dir_and_upper_case_ending(daz_exr, tmp_path):
    upper = daz_exr.with_name("SCENE.EXR")
    shutil.copy(daz_exr, upper)
    status, _, err = run(upper, "--out_dir", tmp_path / "maps", "--mask")
    assert status == 0, err
    assert listing(tmp_path / "maps") == {"SCENE.depth.png", "SCENE.mask.png"}


def test_non_exr_input_is_refused_by_name(tmp_path, daz_exr):
    other = tmp_path / "notes.png"
    other.write_bytes(b"\x89PNG\r\n\x1a\n")
    status, out, err = run(other, daz_exr)
    assert status == 1
    assert "notes.png: error: input files must end in .exr" in err
    assert daz_exr.with_name("figure.depth.png").exists(), "the batch goes on"
    assert not list(tmp_path.glob("notes*.depth.png"))


def test_missing_input_is_reported_and_the_rest_written(tmp_path, daz_exr):
    status, _, err = run(tmp_path / "absent.exr", daz_exr)
    assert status == 1
    assert "absent.exr: error: file not found" in err
    assert daz_exr.with_name("figure.depth.png").exists()


def test_bad_usage_exits_2(daz_exr, capsys):
    with pytest.raises(SystemExit) as info:
        main([str(daz_exr), "--depth_cutoff", "far"])
    assert info.value.code == 2
    assert "expected a number, 'histo' or 'auto'" in capsys.readouterr().err


def test_inputs_are_never_overwritten(daz_exr):
    before = digest(daz_exr)
    for extra in ([], ["--out_dir", daz_exr.parent], ["--mask", "--noise", "--seed", "1"]):
        status, _, err = run(daz_exr, *extra)
        assert status == 0, err
    assert digest(daz_exr) == before


# ----------------------------------------------------------------------------------------------------------------
# Failed writes leave nothing behind


@pytest.mark.parametrize("target", ["file", "devnull"])
def test_an_out_dir_that_is_not_a_folder_is_said_once_before_any_work(daz_exr, tmp_path, target):
    blocker = tmp_path / "out"
    blocker.write_text("not a folder")
    out_dir = blocker if target == "file" else Path(os.devnull)
    before = listing(tmp_path)
    status, out, err = run(daz_exr, daz_exr, "--out_dir", out_dir, "--mask")
    assert status == 2 and out == ""
    assert err.splitlines() == [f"error: --out_dir {out_dir} is not a folder"]
    assert listing(tmp_path) == before
    assert blocker.read_text() == "not a folder"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_out_dir_fails_cleanly(daz_exr, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        status, _, err = run(daz_exr, "--out_dir", folder)
        assert status == 1 and "figure.exr: error:" in err
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o755)


def test_failed_rename_leaves_no_temp_file(daz_exr, monkeypatch):
    def refuse(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    status, _, err = run(daz_exr, "--mask")
    monkeypatch.undo()
    assert status == 1
    assert "No space left on device" in err
    assert listing(daz_exr.parent) == {"figure.exr"}


# ----------------------------------------------------------------------------------------------------------------
# Options


def test_depth_cutoff_clamps(daz_exr, png_reader):
    status, _, err = run(daz_exr, "--depth_cutoff", "300")
    assert status == 0, err
    png = png_reader(daz_exr.with_name("figure.depth.png"))
    depth = raw_depth(daz_exr)
    valid = np.isfinite(depth)
    assert np.all(png[valid & (depth >= 300)] == 0)
    assert np.all(png[~valid] == 0)
    assert png[depth == depth[valid].min()].tolist() == [255]
    # linear in between: depth 235 sits about half-way from the nearest (~170) to 300
    mid = valid & (np.abs(depth - 235) < 0.5)
    nearest = depth[valid].min()
    expected = np.round((300 - depth[mid]) / (300 - nearest) * 255)
    assert np.all(np.abs(png[mid].astype(int) - expected) <= 1)


def test_histo_prints_advice_and_leaves_the_map_unchanged(daz_exr, png_reader, tmp_path):
    status, out, err = run(daz_exr, "--depth_cutoff", "histo")
    assert status == 0, err
    lines = out.splitlines()
    start = lines.index("** providing cutting histogram advice, but leaving depthmap unchanged")
    advice = lines[start + 1 : start + 21]
    assert all(ADVICE_LINE.match(line) for line in advice), advice
    assert [int(ADVICE_LINE.match(line).group(1)) for line in advice] == list(range(20))
    depth = raw_depth(daz_exr)
    assert float(ADVICE_LINE.match(advice[0]).group(3)) == float(depth[np.isfinite(depth)].min())
    shares = [float(ADVICE_LINE.match(line).group(2)) for line in advice]
    assert sum(shares) == pytest.approx(100, abs=0.2)

    histo = png_reader(daz_exr.with_name("figure.depth.png"))
    status, _, _ = run(daz_exr, "--out_dir", tmp_path / "plain")
    assert status == 0
    np.testing.assert_array_equal(histo, png_reader(tmp_path / "plain" / "figure.depth.png"))


def test_auto_uses_the_suggested_cutoff(daz_exr, png_reader, tmp_path):
    image = read_depth(daz_exr)
    suggestion = suggest_cutoff(image.depth, depth_stats(image.depth, image.valid))
    assert suggestion.cutoff is not None
    status, out, err = run(daz_exr, "--depth_cutoff", "auto", "--out_dir", tmp_path / "auto")
    assert status == 0, err
    assert "auto: subject ends at" in out
    status, _, _ = run(daz_exr, "--depth_cutoff", repr(suggestion.cutoff), "--out_dir", tmp_path / "fixed")
    assert status == 0
    auto = png_reader(tmp_path / "auto" / "figure.depth.png")
    np.testing.assert_array_equal(auto, png_reader(tmp_path / "fixed" / "figure.depth.png"))
    depth = raw_depth(daz_exr)
    assert np.all(auto[np.isfinite(depth) & (depth > 590)] == 0), "the backdrop is black"


def test_bits_16(daz_exr, png_reader, tmp_path):
    status, _, err = run(daz_exr, "--bits", "16", "--out_dir", tmp_path / "16")
    assert status == 0, err
    run(daz_exr, "--out_dir", tmp_path / "8")
    wide = png_reader(tmp_path / "16" / "figure.depth.png")
    narrow = png_reader(tmp_path / "8" / "figure.depth.png")
    assert wide.dtype == np.uint16
    depth = raw_depth(daz_exr)
    assert wide[depth == depth[np.isfinite(depth)].min()].tolist() == [65535]
    assert len(np.unique(wide)) > len(np.unique(narrow))
    assert np.all(np.abs(wide / 257.0 - narrow) <= 1)


def test_mask_far_plane_black_subject_white(daz_exr, png_reader):
    status, _, err = run(daz_exr, "--mask", "--depth_cutoff", "300")
    assert status == 0, err
    mask = png_reader(daz_exr.with_name("figure.mask.png"))
    depth_png = png_reader(daz_exr.with_name("figure.depth.png"))
    depth = raw_depth(daz_exr)
    assert mask.dtype == np.uint8 and set(np.unique(mask)) == {0, 255}
    assert np.all(mask[np.isfinite(depth) & (depth < 299)] == 255), "the subject is white"
    assert np.all(mask[~np.isfinite(depth) | (depth >= 300)] == 0), "the far plane and background are black"
    np.testing.assert_array_equal(mask == 255, depth_png > 0)


def test_noise_is_reproducible_and_only_on_the_far_plane(daz_exr, png_reader, tmp_path):
    def depth_png(folder, *extra):
        status, _, err = run(daz_exr, "--depth_cutoff", "300", "--out_dir", tmp_path / folder, *extra)
        assert status == 0, err
        return png_reader(tmp_path / folder / "figure.depth.png")

    plain = depth_png("plain")
    first = depth_png("a", "--noise", "--seed", "42")
    again = depth_png("b", "--noise", "--seed", "42")
    other = depth_png("c", "--noise", "--seed", "43")
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    subject = plain > 0
    np.testing.assert_array_equal(first[subject], plain[subject])
    assert len(np.unique(first[~subject])) > 200

    status, _, _ = run(daz_exr, "--depth_cutoff", "300", "--noise", "--seed", "42", "--mask", "--out_dir", tmp_path)
    assert status == 0
    np.testing.assert_array_equal(png_reader(tmp_path / "figure.mask.png") == 255, subject)


def test_invert_makes_the_largest_value_white(daz_exr, png_reader):
    status, _, err = run(daz_exr, "--invert")
    assert status == 0, err
    png = png_reader(daz_exr.with_name("figure.depth.png"))
    depth = raw_depth(daz_exr)
    valid = np.isfinite(depth)
    assert png[depth == depth[valid].max()].tolist() == [255]
    assert png[depth == depth[valid].min()].tolist() == [0]
    assert np.all(png[~valid] == 0)
    assert png[valid & (depth > 598)].mean() > 200, "the backdrop is now bright"


def test_near_cutoff(daz_exr, png_reader):
    status, _, err = run(daz_exr, "--near_cutoff", "200", "--depth_cutoff", "300")
    assert status == 0, err
    png = png_reader(daz_exr.with_name("figure.depth.png"))
    depth = raw_depth(daz_exr)
    assert np.all(png[depth <= 200] == 255)
    mid = np.isfinite(depth) & (np.abs(depth - 250) < 0.2)
    assert np.all(np.abs(png[mid].astype(int) - 128) <= 1)


def test_contradicting_cutoffs_are_reported(daz_exr):
    status, _, err = run(daz_exr, "--near_cutoff", "300", "--depth_cutoff", "200")
    assert status == 1
    assert "figure.exr: error: the near cutoff 300 must be nearer than the far end 200" in err
    assert not daz_exr.with_name("figure.depth.png").exists()


def test_channel_option(tmp_path, exr_writer, exr_part, shared_exr_dir, png_reader):
    y = np.tile(np.linspace(1, 10, 16, dtype=np.float32), (8, 1))
    path = exr_writer(tmp_path / "two.exr", exr_part({"Y": y, "Z": y[:, ::-1].copy()}))
    status, out, err = run(path, "--channel", "Z")
    assert status == 0, err
    assert "channel Z" in out
    png = png_reader(tmp_path / "two.depth.png")
    assert png[0, -1] == 255 and png[0, 0] == 0  # Z is the mirrored ramp: nearest on the right

    rgba = shared_exr_dir / "exrs_f32_rle_RGBA.exr"
    status, _, err = run(rgba, "--out_dir", tmp_path)
    assert status == 1 and "choose one explicitly with --channel NAME" in err
    status, out, err = run(rgba, "--out_dir", tmp_path, "--channel", "G")
    assert status == 0, err
    assert png_reader(tmp_path / "exrs_f32_rle_RGBA.depth.png").shape == (65, 109)

    status, _, err = run(rgba, "--out_dir", tmp_path, "--channel", "depth")
    assert status == 1 and "no channel named 'depth'" in err


def test_compress_map_option(daz_exr, png_reader):
    status, _, err = run(daz_exr, "--compress_map", "--depth_cutoff", "300")
    assert status == 0, err
    png = png_reader(daz_exr.with_name("figure.depth.png"))
    depth = raw_depth(daz_exr)
    valid = np.isfinite(depth)
    assert np.all(png[valid & (depth >= 300)] == 0)
    assert png[depth == depth[valid].min()].tolist() == [255]
    subject = valid & (depth < 300)
    order = np.argsort(depth[subject])
    assert np.all(np.diff(png[subject][order].astype(int)) <= 0), "nearer is never darker"
    assert len(np.unique(png[subject])) >= 250, "the subject's many distinct depths use nearly every level"


def test_invert_with_auto_cuts_behind_the_subject_of_disparity(tmp_path, png_reader):
    """Disparity (1000 / depth): the subject has large values; auto must clamp the small-value backdrop side."""
    from tests.synthetic import daz_like_depth, write_depth_exr

    depth = daz_like_depth(240, 192)
    disparity = np.where(np.isfinite(depth), 1000.0 / depth, np.inf).astype(np.float32)
    source = tmp_path / "disparity.exr"
    write_depth_exr(source, disparity)
    status, out, err = run(source, "--invert", "--depth_cutoff", "auto", "--mask")
    assert status == 0, err
    png = png_reader(tmp_path / "disparity.depth.png")
    mask = png_reader(tmp_path / "disparity.mask.png")
    subject = np.isfinite(depth) & (depth < 240)  # the legs thin out toward ~255: the edge is the suggestion's call
    backdrop = np.isfinite(depth) & (depth > 590)
    assert np.all(png[backdrop] == 0) and np.all(mask[backdrop] == 0), "the backdrop is the far plane"
    assert np.all(mask[subject] == 255), "the whole subject stays in the map"
    assert png[subject].max() == 255 and png[subject].min() > 0


def test_negative_seed_and_pixel_limit_are_usage_errors(daz_exr, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([str(daz_exr), "--noise", "--seed", "-5"])
    assert exit_info.value.code == 2
    assert "--seed" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main([str(daz_exr), "--max-pixels", "0"])
    assert exit_info.value.code == 2
    assert "--max-pixels" in capsys.readouterr().err


def test_cutoffs_no_exr_depth_reaches_are_usage_errors(daz_exr, capsys):
    """Issue 16: ±1e308 overflowed the window and wrote an all-black map without a word."""
    with pytest.raises(SystemExit) as exit_info:
        main([str(daz_exr), "--depth_cutoff", "1e308"])
    assert exit_info.value.code == 2
    assert "--depth_cutoff/--depth-cutoff: expected a depth an EXR can hold" in capsys.readouterr().err
    status, out, err = run(daz_exr, "--near_cutoff=-1e308")
    assert status == 2 and out == "" and err.startswith("error: near_cutoff: expected a depth an EXR can hold")
    assert not daz_exr.with_name("figure.depth.png").exists()


def test_two_inputs_with_one_output_name_do_not_overwrite_each_other(tmp_path, daz_exr, png_reader):
    """The tab's rule: the first input keeps its name, another with the same one (any case) gets "-2"."""
    other = tmp_path / "other"
    other.mkdir()
    twin = other / "FIGURE.exr"
    write_depth_exr(twin, daz_like_depth(60, 50, seed=9))
    out_dir = tmp_path / "out"
    status, out, err = run(daz_exr, twin, daz_exr, "--out_dir", out_dir)
    assert status == 0, err
    assert listing(out_dir) == {"figure.depth.png", "FIGURE-2.depth.png"}
    assert png_reader(out_dir / "FIGURE-2.depth.png").shape == (60, 50)
    assert png_reader(out_dir / "figure.depth.png").shape == raw_depth(daz_exr).shape
    assert "FIGURE-2.depth.png (renamed: another input in this run writes FIGURE.*)" in out
    assert "3 of 3 files written" in out


# ----------------------------------------------------------------------------------------------------------------
# Hostile inputs and a new user's rough edges (issue 8)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_pipe_named_like_an_exr_is_refused_without_hanging(tmp_path, daz_exr, python_runner):
    fifo = tmp_path / "b.exr"
    os.mkfifo(fifo)
    proc = python_runner(["-m", "daz_depthmap", str(fifo), str(daz_exr)], timeout=30)  # reading it would block
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        "[1/2] b.exr: error: is not a regular file (a pipe, socket or device); give a " "file on disk"
    ]
    assert daz_exr.with_name("figure.depth.png").is_file(), "the files after it are still written"


@pytest.mark.parametrize("length", [228, 249])
def test_long_names_the_file_system_takes_are_written(tmp_path, length):
    source = tmp_path / ("n" * (length - 4) + ".exr")
    write_depth_exr(source, daz_like_depth(24, 20))
    status, _, err = run(source, "-q")
    assert status == 0, err
    assert source.with_name(source.name[:-4] + ".depth.png").is_file()
    assert not list(tmp_path.glob(".*.tmp"))


def test_an_output_name_too_long_is_said_in_words(tmp_path):
    source = tmp_path / ("n" * 248 + ".exr")  # legal; its .depth.png (258 characters) is not
    write_depth_exr(source, daz_like_depth(24, 20))
    status, out, err = run(source)
    assert status == 1 and out == ""
    assert err.splitlines() == [
        f"{source.name}: error: the output name '{'n' * 248}.depth.png' (258 characters) is too long for this file "
        "system; shorten the input's name"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == [source.name]


def test_a_name_with_a_line_break_stays_one_quoted_line(tmp_path):
    source = tmp_path / "two\nlines.exr"
    source.write_bytes(b"not an exr at all")
    status, _, err = run(source)
    assert status == 1
    assert err.splitlines() == [
        "'two\\nlines.exr': error: not an OpenEXR file (it does not start with the EXR " "signature 76 2f 31 01)"
    ]


@pytest.mark.parametrize("cutoff", ["100", "-5", "170"])
def test_a_cutoff_at_or_before_the_nearest_depth_writes_a_black_map_and_says_so(daz_exr, cutoff, png_reader):
    nearest = float(raw_depth(daz_exr)[np.isfinite(raw_depth(daz_exr))].min())
    value = cutoff if cutoff != "170" else repr(nearest)
    status, out, err = run(daz_exr, "--depth_cutoff", value, "-q")
    assert status == 0 and out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("figure.exr: warning: the far cutoff ")
    assert "the whole map is black" in lines[0]
    assert png_reader(daz_exr.with_name("figure.depth.png")).max() == 0
    status, _, err = run(daz_exr, "--depth_cutoff", "300", "-q")
    assert status == 0 and err == "", "an ordinary cutoff says nothing"


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize(("near", "far"), [(10, 20), (-5, 100), (100, "nearest")])
def test_recipe_cutoffs_before_every_depth_write_a_black_map_and_say_so(
    daz_exr, tmp_path, png_reader, compress, near, far
):
    """Issue 16: the flag warned, the same window from a recipe (both cutoffs given) did not, and with compress_map
    its map was white."""
    nearest = float(raw_depth(daz_exr)[np.isfinite(raw_depth(daz_exr))].min())
    recipe = tmp_path / "behind.json"
    cutoffs = {"near_cutoff": near, "depth_cutoff": nearest if far == "nearest" else far}
    recipe.write_text(json.dumps({"format": "daz-depthmap-recipe", "version": 1, "cutoffs": cutoffs,
                                  "options": {"compress_map": compress}}))  # fmt: skip
    status, out, err = run(daz_exr, "--recipe", recipe)
    assert status == 0, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("figure.exr: warning: the far cutoff ")
    assert f"(the nearest is {nearest:g}): the whole map is black" in lines[0]
    assert png_reader(daz_exr.with_name("figure.depth.png")).max() == 0
    assert "bands" not in out, "a recipe without bands is one band, not said as bands"


def test_a_python_without_the_bindings_is_told_how_to_get_them(tmp_path, daz_exr, python_runner):
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "OpenEXR.py").write_text("raise ImportError('not here')\n")
    hide = f"import sys; sys.modules['OpenEXR'] = None; sys.argv = ['x', {str(daz_exr)!r}]; import runpy; "
    proc = python_runner(["-c", hide + "runpy.run_module('daz_depthmap', run_name='__main__')"])
    assert proc.returncode == 2 and proc.stdout == ""
    (line,) = proc.stderr.splitlines()
    assert line.startswith("error: OpenEXR's Python bindings are not installed for this Python")
    assert "pip install" in line and ".venv/bin/python -m daz_depthmap" in line and "Traceback" not in line


def test_a_truncated_file_prints_one_line_and_nothing_of_openexr(tmp_path, shared_exr_dir, python_runner):
    truncated = tmp_path / "trunc.exr"
    truncated.write_bytes((shared_exr_dir / "synthetic_daz_Y_f32_zip_1200.exr").read_bytes()[:3000])
    proc = python_runner(["-m", "daz_depthmap", "-q", str(truncated)])
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.splitlines() == [
        "trunc.exr: error: damaged or truncated EXR pixel data: chunk 0 of 75 runs past the end of the file"
    ]


# ----------------------------------------------------------------------------------------------------------------
# Depth bands, region maps, test colours, recipes


@pytest.fixture
def two_figures(tmp_path) -> Path:
    """Two figures (near 150..210 cm left, far 330..400 cm right) before a backdrop at ~800 cm."""
    from tests.synthetic import two_subject_depth

    path = tmp_path / "two.exr"
    write_depth_exr(path, two_subject_depth(240, 200, seed=5))
    return path


def rp_colour(number: int) -> tuple[int, int, int]:
    """Regional Prompter's colour for region ``number`` (its table, facts/regional-prompter.md), as RGB."""
    return {0: (128, 64, 64), 1: (64, 128, 128), 2: (96, 128, 64), 3: (96, 64, 128)}[number]


def rgb(png_reader, path) -> np.ndarray:
    return png_reader(path)[..., ::-1]  # OpenCV decodes BGR


def test_bands_give_each_figure_its_levels_and_regions(two_figures, tmp_path, png_reader):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    spec = "265:150:near figure@0,*:106:far figure@1"
    status, out, err = run(two_figures, "--depth_cutoff", "500", "--bands", spec, "--regions", "--test_colours",
                           "--mask", "--out_dir", out_dir)  # fmt: skip
    assert status == 0, err
    assert "2 bands split at 265 (150, 106 levels)" in out
    assert "2 regions (0 near figure, 1 far figure)" in out
    depth = raw_depth(two_figures)
    near, far, backdrop = depth < 265, (depth >= 265) & (depth < 500), (depth >= 500) & np.isfinite(depth)
    mapped = png_reader(out_dir / "two.depth.png")
    assert mapped[near].min() >= 106 and mapped[near].max() == 255  # the near figure owns the top 150 levels
    assert mapped[far].max() <= 105 and mapped[far].min() <= 1  # the far one the 106 below
    assert (mapped[backdrop] == 0).all()
    order = np.argsort(depth[near | far], kind="stable")
    assert (np.diff(mapped[near | far][order].astype(int)) <= 0).all()  # nearer is never darker
    regions = rgb(png_reader, out_dir / "two.regions.png")
    assert (regions[near] == rp_colour(0)).all() and (regions[far] == rp_colour(1)).all()
    assert (regions[backdrop] == 0).all()
    test = rgb(png_reader, out_dir / "two.test.png")
    assert len({tuple(c) for c in test[near].reshape(-1, 3)} & {tuple(c) for c in test[far].reshape(-1, 3)}) == 0
    assert (png_reader(out_dir / "two.mask.png")[backdrop] == 0).all()


def test_bands_at_16_bits_scale_each_8_bit_level(two_figures, tmp_path, png_reader):
    status, _, err = run(two_figures, "--depth_cutoff", "500", "--bands", "265:150,*:106", "--bits", "16",
                         "--out_dir", tmp_path)  # fmt: skip
    assert status == 0, err
    depth, mapped = raw_depth(two_figures), png_reader(tmp_path / "two.depth.png")
    assert mapped.dtype == np.uint16
    assert mapped[depth < 265].min() >= 106 * 256 and mapped[depth < 265].max() == 65535
    assert mapped[(depth >= 265) & (depth < 500)].max() <= 106 * 256 - 1


def test_auto_bands_with_histo_print_each_bands_share(two_figures, tmp_path):
    status, out, err = run(two_figures, "--depth_cutoff", "histo", "--bands", "auto", "--out_dir", tmp_path)
    assert status == 0, err
    lines = re.findall(r"^\*\* band (\d): ([0-9.]+) to ([0-9.]+), ([0-9.]+)% of the pixels in the window, (\d+) levels",
                       out, re.M)  # fmt: skip
    assert [int(n) for n, *_ in lines] == [1, 2, 3]  # near figure, far figure, backdrop
    assert 210 < float(lines[0][2]) < 330 and 400 < float(lines[1][2]) < 796
    assert abs(sum(float(share) for *_, share, _ in lines) - 100) < 0.05
    assert sum(int(levels) for *_, levels in lines) == 256


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("265:sixty,*", "item 1 '265:sixty'"),
        ("265:150,200:50,*:56", "item 2"),
        ("265:150,*:100", "256"),
        ("265:150@x,*", "region"),
        ("265,*,300", "item 2"),
    ],
)
def test_a_malformed_spec_is_a_usage_error_before_any_file(two_figures, tmp_path, spec, problem):
    before = listing(two_figures.parent)
    status, out, err = run(two_figures, "--bands", spec)
    assert status == 2
    assert err.startswith("error: ") and problem in err and err.count("\n") == 1, err
    assert listing(two_figures.parent) == before and out == ""


def test_a_spec_that_does_not_fit_a_file_fails_that_file_only(two_figures, daz_exr, tmp_path):
    # auto cutoff: the two figures' window ends at ~393 cm, the single figure's before 265 cm
    status, out, err = run(two_figures, daz_exr, "--depth_cutoff", "auto", "--bands", "265:150,*:106",
                           "--out_dir", tmp_path)  # fmt: skip
    assert status == 1
    assert "[2/2] figure.exr: error: split 1 at 265 lies outside the window" in err, err
    assert (tmp_path / "two.depth.png").exists() and not (tmp_path / "figure.depth.png").exists()


def test_region_map_at_the_generation_size_and_in_parts(two_figures, tmp_path, png_reader):
    status, out, err = run(two_figures, "--depth_cutoff", "500", "--bands", "*@0", "--regions", "--split_parts",
                           "--min_area", "40", "--region_size", "512x768", "--out_dir", tmp_path)  # fmt: skip
    assert status == 0, err
    regions = rgb(png_reader, tmp_path / "two.regions.png")
    assert regions.shape == (768, 512, 3)
    colours = {tuple(int(v) for v in c) for c in np.unique(regions.reshape(-1, 3), axis=0)}
    assert colours == {(0, 0, 0), rp_colour(0), rp_colour(1)}  # nearest-neighbour: no blended colours
    left = np.flatnonzero((regions == rp_colour(0)).all(axis=2).any(axis=0))
    right = np.flatnonzero((regions == rp_colour(1)).all(axis=2).any(axis=0))
    assert left.max() < right.min()  # the two figures at one band: two regions, numbered left to right
    assert "is 2 parts, left to right regions 0, 1" in out


def test_a_saved_recipe_maps_the_next_frame_the_same_way(tmp_path, png_reader):
    from tests.synthetic import two_subject_depth

    first, second = two_subject_depth(240, 200, seed=1), two_subject_depth(240, 200, seed=1)
    second[:, :60] = 190.0  # a wall walks in on the left of the next frame: the pixel shares change
    frames = tmp_path / "frames"
    frames.mkdir()
    write_depth_exr(frames / "f1.exr", first)
    write_depth_exr(frames / "f2.exr", second)
    recipe = tmp_path / "scene.json"
    status, out, err = run(frames / "f1.exr", "--depth_cutoff", "auto", "--bands", "auto", "--save_recipe", recipe,
                           "--out_dir", tmp_path / "free")  # fmt: skip
    assert status == 0 and recipe.exists(), err
    status, _, err = run(frames / "f2.exr", "--depth_cutoff", "auto", "--bands", "auto", "--out_dir", tmp_path / "free")
    assert status == 0, err
    status, _, err = run(frames / "f1.exr", frames / "f2.exr", "--recipe", recipe, "--out_dir", tmp_path / "same")
    assert status == 0, err
    same = first == second
    free1, free2 = (png_reader(tmp_path / "free" / f"f{i}.depth.png") for i in (1, 2))
    same1, same2 = (png_reader(tmp_path / "same" / f"f{i}.depth.png") for i in (1, 2))
    assert (free1[same] != free2[same]).any()  # mapped on their own, the unchanged pixels flicker
    np.testing.assert_array_equal(same1[same], same2[same])  # with the recipe they do not
    np.testing.assert_array_equal(same1, free1)  # and frame 1 looks as it did when the recipe was saved


def test_recipe_problems_are_usage_errors(two_figures, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "daz-depthmap-recipe", "version": 1, "cutoffs": {"depth_cutoff": "far"}}')
    status, _, err = run(two_figures, "--recipe", bad)
    assert status == 2 and "bad.json" in err and "depth_cutoff" in err, err
    status, _, err = run(two_figures, "--recipe", tmp_path / "missing.json")
    assert status == 2 and "missing.json" in err, err
    status, _, err = run(two_figures, "--recipe", bad, "--depth_cutoff", "300", "--bands", "265,*")
    assert status == 2 and "leave out --depth_cutoff, --bands" in err, err
    assert not (two_figures.parent / "two.depth.png").exists()


def test_bands_and_regions_on_a_real_blender_file(shared_exr_dir, tmp_path, png_reader):
    path = shared_exr_dir / "blender_crowskull_RGBAZ_f32_pxr24_1920x1080.exr"
    status, out, err = run(path, "--depth_cutoff", "auto", "--bands", "auto", "--regions", "--region_size",
                           "1024x576", "--out_dir", tmp_path)  # fmt: skip
    assert status == 0, err
    regions = rgb(png_reader, tmp_path / f"{path.stem}.regions.png")
    assert regions.shape == (576, 1024, 3)
    colours = {tuple(int(v) for v in c) for c in np.unique(regions.reshape(-1, 3), axis=0)}
    from daz_depthmap.bands.regions import region_colour

    assert colours - {(0, 0, 0)} == {region_colour(n) for n in range(len(colours) - 1)}  # 0, 1, 2... no holes


def test_a_full_disk_in_a_second_run_leaves_the_first_runs_set_whole(two_figures, tmp_path, monkeypatch):
    """Issue 16 (8): the outputs were renamed one by one, so a failure on test.png left the first run's test.png
    beside the second run's depth, mask and regions, and said only `[Errno 28] No space left on device`."""
    out_dir = tmp_path / "out"
    args = (two_figures, "--mask", "--bands", "auto", "--regions", "--test_colours", "--out_dir", out_dir)
    status, _, err = run(*args, "--depth_cutoff", "auto")
    assert status == 0, err
    before = {p.name: digest(p) for p in out_dir.iterdir()}
    assert len(before) == 4
    real = os.replace
    calls = []

    def full_on_the_fourth(src, dst):
        calls.append(dst)
        if len(calls) == 4:
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", full_on_the_fourth)
    status, out, err = run(*args, "--depth_cutoff", "500")
    monkeypatch.undo()
    assert status == 1 and out == ""
    assert {p.name: digest(p) for p in out_dir.iterdir()} == before
    line = err.strip()
    assert "\n" not in line and "could not write two.test.png: No space left on device" in line
    assert "nothing of the set was written" in line and "two.depth.png" in line


RECIPE_TEXT = '{"format": "daz-depthmap-recipe", "version": 1, "cutoffs": {"depth_cutoff": 300}}'


def test_a_recipe_saved_with_a_byte_order_mark_is_read(two_figures, tmp_path):
    """Issue 16: Notepad writes UTF-8 with a BOM; such a recipe was refused."""
    recipe = tmp_path / "notepad.json"
    recipe.write_bytes(b"\xef\xbb\xbf" + RECIPE_TEXT.encode())
    status, _, err = run(two_figures, "--recipe", recipe, "-q")
    assert status == 0 and err == "", err


def test_a_deeply_nested_recipe_is_a_usage_error_in_one_line(two_figures, tmp_path, python_runner):
    """Issue 16: `--recipe deep.json` printed a 25-line traceback and exited 1."""
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 20000 + "]" * 20000)
    proc = python_runner(["-m", "daz_depthmap", two_figures, "--recipe", deep])
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == f"error: --recipe {deep}: not a recipe: nested too deeply", proc.stderr


@pytest.mark.skipif(os.name != "posix", reason="named pipes and /dev/zero")
def test_a_recipe_that_is_a_pipe_or_a_device_is_refused_at_once(two_figures, tmp_path, python_runner):
    """Issue 16: `--recipe` on a FIFO blocked forever; on /dev/zero it read until MemoryError."""
    pipe = tmp_path / "recipe.json"
    os.mkfifo(pipe)
    for source in (pipe, Path("/dev/zero")):
        proc = python_runner(["-m", "daz_depthmap", two_figures, "--recipe", source], timeout=30)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert (
            proc.stderr.strip() == f"error: --recipe {source}: not a regular file (a pipe or a device?): not a recipe"
        )


def test_a_recipe_larger_than_any_recipe_is_refused_unread(two_figures, tmp_path):
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (2 << 20) + RECIPE_TEXT.encode())
    status, _, err = run(two_figures, "--recipe", big)
    assert status == 2 and err.strip() == f"error: --recipe {big}: larger than 1024 KiB: not a recipe"


def test_recipe_labels_reach_the_terminal_escaped_and_short(two_figures, tmp_path):
    """Issue 16: a shared recipe's labels were printed raw: escape sequences reached the terminal, and a 50 MB
    label became a 50 MB line."""
    hostile, long = "\x1b[2J\x1b[31mred\u202e", "y" * 100_000
    recipe = tmp_path / "shared.json"
    recipe.write_text(json.dumps({
        "format": "daz-depthmap-recipe", "version": 1, "cutoffs": {"depth_cutoff": 500, "near_cutoff": 140},
        "bands": [{"end": 265, "levels": 150, "label": hostile, "region": 0},
                  {"end": None, "levels": 106, "label": long, "region": 1}],
    }))  # fmt: skip
    status, out, err = run(two_figures, "--recipe", recipe, "--regions")
    assert status == 0, err
    (line,) = out.splitlines()
    assert "\x1b" not in out and "\u202e" not in out and len(line) < 600
    assert "0 \\x1b[2J\\x1b[31mred\\u202e" in line and f"1 {'y' * 60}…" in line


def test_a_name_with_a_line_break_keeps_the_summary_on_one_quoted_line(tmp_path, daz_exr):
    """Issue 16: the error lines quoted such a name, the summary line did not (its output names split it)."""
    source = tmp_path / "two\nlines.exr"
    shutil.copyfile(daz_exr, source)
    status, out, err = run(source, daz_exr, "--depth_cutoff", "histo")
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0] == "== 'two\\nlines.exr'"
    summary = next(line for line in lines if line.startswith("[1/2] "))
    assert summary.startswith("[1/2] 'two\\nlines.exr': channel ")
    assert summary.endswith("-> 'two\\nlines.depth.png'")
    assert not any(line.startswith("lines") for line in lines)
    assert source.with_name("two\nlines.depth.png").is_file()
    scene = tmp_path / "sc\nene-Canvas2-Depth.exr"
    shutil.copyfile(daz_exr, scene)
    status, out, err = run(scene, "--normal")
    assert status == 0, err
    assert len(out.splitlines()) == 1 and len(err.splitlines()) == 1, err
    assert err.startswith("'sc\\nene': warning: no normal map") and "\\n" in err


def test_ctrl_c_stops_with_one_line_and_exit_130(daz_exr, tmp_path, monkeypatch):
    """Issue 16: Ctrl+C printed a 25-line traceback."""
    from daz_depthmap.cli import batch as cli

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    second = tmp_path / "second.exr"
    shutil.copyfile(daz_exr, second)
    calls = []
    real = cli.process_item
    monkeypatch.setattr(
        cli, "process_item", lambda *a, **k: interrupted() if calls else calls.append(1) or real(*a, **k)
    )
    status, out, err = run(daz_exr, second, "--out_dir", tmp_path / "out", "--jobs", "1")
    assert status == 130
    assert err == "interrupted after 1 of 2 inputs; no output is left half-written\n"
    assert out.startswith("[1/2] figure.exr: ") and len(out.splitlines()) == 1


@pytest.mark.skipif(os.name != "posix", reason="SIGINT to a child process")
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_in_a_real_batch_leaves_only_whole_outputs(daz_exr, tmp_path, jobs):
    import signal
    import subprocess
    import sys

    from tests.conftest import REPO_ROOT

    inputs = []
    for i in range(40):
        inputs.append(tmp_path / f"frame{i:02d}.exr")
        shutil.copyfile(daz_exr, inputs[-1])
    out_dir = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    args = [sys.executable, "-m", "daz_depthmap", *map(str, inputs), "--mask", "--out_dir", str(out_dir)]
    args += ["--jobs", jobs]
    child = subprocess.Popen(args, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline().startswith("[1/40] ")
    child.send_signal(signal.SIGINT)
    rest, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    assert "Traceback" not in err and len(err.splitlines()) == 1
    assert re.fullmatch(r"interrupted after \d+ of 40 inputs; no output is left half-written\n", err), err
    written = sorted(out_dir.iterdir())
    assert not [p for p in written if p.name.startswith(".")], "no temporary file is left"
    for path in written:
        with Image.open(path) as image:  # every output there is whole
            image.load()
    stems = {p.name.split(".")[0] for p in written}
    assert all((out_dir / f"{stem}.depth.png").exists() and (out_dir / f"{stem}.mask.png").exists() for stem in stems)
