"""The per-session model of the tab: loading, options, previews that match the output, picking, writing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from daz_depthmap.exr import DepthReadError, depth_image, read_depth
from daz_depthmap.histogram import suggest_cutoff
from daz_depthmap.params import DepthParams
from daz_depthmap.pipeline import render
from daz_depthmap.synthetic import daz_like_depth, write_depth_exr
from daz_depthmap.workspace import (
    PREVIEW_SIDE,
    Workspace,
    distinct_ranks,
    preview_indices,
    slider_step,
)

F32 = "synthetic_daz_Y_f32_zip_1200.exr"
HALF = "synthetic_daz_Y_half_zip_1200.exr"


@pytest.fixture
def loaded(shared_exr_dir: Path) -> Workspace:
    ws = Workspace(DepthParams(depth_cutoff="auto", seed=7))
    result = ws.load([shared_exr_dir / F32])
    assert result.loaded == [F32] and not result.errors
    return ws


def _png_bytes() -> bytes:
    import cv2

    return cv2.imencode(".png", np.zeros((4, 4), np.uint8))[1].tobytes()


# --------------------------------------------------------------------------------------------------------------
# Loading


def test_a_bad_file_gives_a_message_naming_it_and_the_others_still_load(shared_exr_dir: Path, tmp_path: Path):
    fake = tmp_path / "render.exr"
    fake.write_bytes(_png_bytes())
    ws = Workspace()
    result = ws.load(
        [
            shared_exr_dir / F32,
            fake,
            tmp_path / "missing.exr",
            shared_exr_dir / "oei_v2_LowResLeftView_Balls_deep.exr",
            (tmp_path / "upload_tmp_123", "notes.txt"),
            shared_exr_dir / HALF,
        ]
    )
    assert result.loaded == [F32, HALF]
    assert len(result.errors) == 4
    png, missing, deep, txt = result.errors
    assert png.startswith("render.exr:") and "PNG" in png
    assert missing.startswith("missing.exr:") and "not found" in missing
    assert "deep" in deep
    assert txt.startswith("notes.txt:") and ".exr" in txt
    assert ws.current_key == F32  # the first file loaded is shown


def test_a_file_with_no_valid_depth_is_refused_with_a_message(tmp_path: Path):
    path = tmp_path / "sky.exr"
    write_depth_exr(path, np.full((8, 8), np.inf, np.float32))
    result = Workspace().load([path])
    assert result.loaded == [] and "no valid depth" in result.errors[0] and "sky.exr" in result.errors[0]


def test_uploads_keep_their_original_names_and_duplicates_get_distinct_keys_and_stems(shared_exr_dir, tmp_path):
    ws = Workspace()
    result = ws.load([(shared_exr_dir / F32, "scene.exr"), (shared_exr_dir / HALF, "scene.exr")])
    assert result.loaded == ["scene.exr", "scene.exr (2)"]
    assert [f.stem for f in ws.files] == ["scene", "scene-2"]
    assert ws.get("scene.exr").name == "scene.exr"


def test_load_message_tells_size_channel_range_and_background(loaded: Workspace):
    message = loaded.current.message
    assert "1200 × 1200 px" in message and "channel Y" in message
    assert "169.9" in message and "606.6" in message and "35 background px" in message
    assert "Suggested cutoff" in message


def test_new_files_start_at_the_suggested_cutoff_or_the_given_one(shared_exr_dir: Path):
    auto = Workspace(DepthParams(depth_cutoff="auto"))
    auto.load([shared_exr_dir / F32])
    entry = auto.current
    assert entry.suggestion.cutoff is not None
    assert entry.params.depth_cutoff == pytest.approx(entry.suggestion.cutoff, abs=entry.step / 10)
    assert 250 < entry.params.depth_cutoff < 290

    fixed = Workspace(DepthParams(depth_cutoff=240.0, bits=16, mask=True))
    fixed.load([shared_exr_dir / F32])
    assert fixed.current.params.depth_cutoff == 240.0 and fixed.current.params.bits == 16

    full = Workspace(DepthParams(depth_cutoff="histo"))
    full.load([shared_exr_dir / F32])
    assert full.current.params.depth_cutoff is None
    assert full.current.far_value() == pytest.approx(full.current.stats.farthest)


def test_each_file_has_a_fixed_noise_seed_so_preview_and_output_agree(shared_exr_dir: Path):
    ws = Workspace()
    ws.load([shared_exr_dir / F32, shared_exr_dir / HALF])
    seeds = [f.params.seed for f in ws.files]
    assert all(isinstance(s, int) for s in seeds)
    ws.update(noise=True)
    assert np.array_equal(ws.preview().depth, ws.preview().depth)


# --------------------------------------------------------------------------------------------------------------
# Preview


def test_preview_indices_make_a_nearest_neighbour_copy_within_the_size():
    rows, cols = preview_indices(4096, 3000, 768)
    assert len(rows) == 768 and len(cols) == round(3000 * 768 / 4096)
    assert rows.min() >= 0 and rows.max() <= 4095 and cols.max() <= 2999
    assert np.all(np.diff(rows) > 0) and np.all(np.diff(cols) > 0)
    small_rows, small_cols = preview_indices(100, 80, 768)
    assert np.array_equal(small_rows, np.arange(100)) and np.array_equal(small_cols, np.arange(80))


@pytest.mark.parametrize("compress", [False, True])
def test_preview_levels_equal_the_full_resolution_levels_at_the_sampled_pixels(loaded: Workspace, compress: bool):
    entry = loaded.update(compress_map=compress, depth_cutoff=250.0, near_cutoff=180.0)
    preview = entry.render_preview()
    full = entry.full_maps()
    assert max(preview.depth.shape) == PREVIEW_SIDE
    assert np.array_equal(preview.depth, full.depth[np.ix_(entry.rows, entry.cols)])
    assert np.array_equal(preview.mask, full.mask[np.ix_(entry.rows, entry.cols)])


def test_moving_the_far_cutoff_nearer_darkens_the_subject_and_blacks_out_what_lies_beyond(loaded: Workspace):
    far = loaded.update(depth_cutoff=290.0).render_preview()
    near = loaded.update(depth_cutoff=230.0).render_preview()
    assert near.depth[:20, :20].max() == 0 and far.depth[:20, :20].max() == 0  # backdrop black
    lit = (far.depth > 0) & (near.depth > 0)
    assert np.all(near.depth[lit] <= far.depth[lit])
    assert np.count_nonzero(near.depth) < np.count_nonzero(far.depth)
    assert near.clipped_far > far.clipped_far
    entry = loaded.current
    beyond = (entry.preview_depth >= 230.0) & entry.preview_valid
    assert near.clipped_far == pytest.approx(np.count_nonzero(beyond) / np.count_nonzero(entry.preview_valid))


def test_compress_map_ranks_are_computed_once_and_only_when_needed(loaded: Workspace):
    entry = loaded.current
    entry.render_preview()
    assert entry._preview_ranks is None
    loaded.update(compress_map=True)
    entry.render_preview()
    ranks = entry.preview_ranks()
    entry.render_preview()
    assert entry.preview_ranks() is ranks


def test_a_loaded_file_keeps_only_preview_sized_data(tmp_path: Path):
    path = tmp_path / "big.exr"
    write_depth_exr(path, daz_like_depth(2048, 2048))
    ws = Workspace(DepthParams(depth_cutoff="auto"))
    ws.load([path])
    entry = ws.current
    full = 2048 * 2048 * 5  # float32 depth + bool mask
    assert not any(isinstance(v, np.ndarray) and v.size >= 2048 * 2048 for v in vars(entry).values())
    assert entry.nbytes < full / 6
    ws.update(compress_map=True)
    entry.render_preview()
    # the distinct depths and the preview pixels' ranks, not 4.2 M full-resolution ranks (16 MiB)
    assert entry.nbytes < full / 2


@pytest.mark.parametrize("side", [1200, 257])
def test_preview_ranks_are_the_full_images_ranks_at_the_preview_pixels(side: int):
    image = depth_image(daz_like_depth(side, side))
    depth, valid = image.depth, image.valid
    rows, cols = preview_indices(side, side, 300)
    ranks = distinct_ranks(depth, valid, rows, cols)
    values = np.unique(depth[valid])
    np.testing.assert_array_equal(ranks.values, values)
    assert ranks.index.shape == (len(rows), len(cols)), "only the preview pixels' ranks are kept"
    preview_valid = valid[np.ix_(rows, cols)]
    expected = np.searchsorted(values, depth[np.ix_(rows, cols)])
    assert np.array_equal(ranks.index[preview_valid], expected[preview_valid])


def test_full_resolution_outputs_read_the_file_again_and_say_when_it_is_gone(shared_exr_dir: Path, tmp_path: Path):
    upload = tmp_path / "upload" / "scene.exr"
    upload.parent.mkdir()
    upload.write_bytes((shared_exr_dir / F32).read_bytes())
    command_line = tmp_path / "cli.exr"
    command_line.write_bytes(upload.read_bytes())
    ws = Workspace(DepthParams(depth_cutoff=250.0))
    ws.load([(upload, "scene.exr"), command_line])
    before = ws.full_maps().depth
    assert before.shape == (1200, 1200)
    upload.unlink()
    message = "scene.exr: the uploaded file is no longer available; upload it again"
    with pytest.raises(DepthReadError, match=re.escape(message)):
        ws.full_maps()
    with pytest.raises(DepthReadError, match=re.escape(message)):
        ws.set_channel("Z")
    assert ws.preview().depth.shape == (PREVIEW_SIDE, PREVIEW_SIDE)  # the preview still works
    write_depth_exr(command_line, daz_like_depth(64, 64))  # replaced by another render
    result = ws.write_all(tmp_path / "out")
    assert result.written == []
    assert result.errors == [message, "cli.exr: the file changed since it was loaded; load it again"]


def test_invert_makes_the_largest_values_white(loaded: Workspace):
    entry = loaded.update(invert=True, depth_cutoff=None, near_cutoff=None)
    preview = entry.render_preview()
    assert np.median(preview.depth[:20, :20]) > 240  # the backdrop is the largest value: white when inverted


def test_inverted_input_gets_its_own_suggested_cutoff(shared_exr_dir: Path):
    truth = read_depth(shared_exr_dir / F32)
    ws = Workspace(DepthParams(depth_cutoff="auto", invert=True))
    ws.load([shared_exr_dir / F32])
    entry = ws.current
    expected = suggest_cutoff(truth.depth, entry.stats, invert=True)
    assert expected.cutoff is not None and entry.suggestion == expected
    assert entry.params.depth_cutoff == pytest.approx(expected.cutoff, abs=entry.step / 10)  # starts there
    assert entry.histogram_payload()["suggestion"] == pytest.approx(expected.cutoff, abs=entry.step / 10)
    assert entry.suggestion.reason in entry.message
    plain = ws.update(invert=False, depth_cutoff=None)
    payload = plain.histogram_payload()
    assert payload["suggestion"] == pytest.approx(suggest_cutoff(truth.depth, entry.stats).cutoff, abs=entry.step / 10)


# --------------------------------------------------------------------------------------------------------------
# Options


def test_cutoffs_at_the_ends_of_the_range_mean_no_cutoff(loaded: Workspace):
    stats = loaded.current.stats
    params = loaded.update(depth_cutoff=stats.farthest + 5, near_cutoff=stats.nearest - 1).params
    assert params.depth_cutoff is None and params.near_cutoff is None


def test_a_near_cutoff_beyond_the_far_one_is_refused_and_nothing_changes(loaded: Workspace):
    before = loaded.update(depth_cutoff=250.0).params
    with pytest.raises(ValueError, match="near cutoff"):
        loaded.update(near_cutoff=260.0)
    assert loaded.current.params == before


def test_without_a_file_every_action_says_what_to_do():
    ws = Workspace()
    for action in (ws.preview, ws.full_maps, lambda: ws.update(mask=True), lambda: ws.pick(1, 1)):
        with pytest.raises(ValueError, match="no file loaded"):
            action()


def test_each_file_keeps_its_own_options(shared_exr_dir: Path):
    ws = Workspace()
    ws.load([shared_exr_dir / F32, shared_exr_dir / HALF])
    ws.update(depth_cutoff=240.0, mask=True)
    ws.select(HALF)
    ws.update(depth_cutoff=260.0, bits=16)
    assert ws.get(F32).params.depth_cutoff == 240.0 and ws.get(F32).params.mask
    assert ws.get(HALF).params.depth_cutoff == 260.0 and not ws.get(HALF).params.mask
    assert ws.select(F32).params.bits == 8


def test_choosing_another_channel_reads_the_file_again(shared_exr_dir: Path):
    ws = Workspace()
    ws.load([shared_exr_dir / "oei_Beachball_singlepart_0001.exr"])
    entry = ws.current
    assert entry.channel == "Z" and "left.Z" in entry.channels
    ws.update(mask=True, bits=16)
    other = ws.set_channel("left.Z")
    assert other.channel == "left.Z" and ws.current is other
    assert other.params.mask and other.params.bits == 16
    assert not np.array_equal(other.preview_depth, entry.preview_depth)
    assert other.full_maps().depth.shape == (1556, 2048)
    with pytest.raises(Exception, match="no channel named"):
        ws.set_channel("nope")
    assert ws.current is other


def test_a_file_without_a_recognisable_depth_channel_is_shown_on_r_with_a_warning(shared_exr_dir: Path):
    name = "exrs_f32_rle_RGBA.exr"
    ws = Workspace()
    result = ws.load([shared_exr_dir / name])
    assert result.loaded == [name] and not result.errors
    hint = "no depth channel recognised; showing R — pick the depth channel in the Channel menu"
    assert result.warnings == [f"{name}: {hint}"]
    entry = ws.current
    assert entry.channel == "R" and set(entry.channels) == {"R", "G", "B", "A"} and hint in entry.message
    truth = read_depth(shared_exr_dir / name, "R")
    assert np.array_equal(entry.full_maps().depth, render(truth, entry.params).depth)  # the outputs use R too
    other = ws.set_channel("G")
    assert other.channel == "G" and hint not in other.message


def test_remove_forgets_the_file_and_shows_the_next(shared_exr_dir: Path):
    ws = Workspace()
    ws.load([shared_exr_dir / F32, shared_exr_dir / HALF])
    ws.remove(F32)
    assert ws.keys == [HALF] and ws.current_key == HALF
    ws.remove(HALF)
    assert ws.keys == [] and ws.current is None


# --------------------------------------------------------------------------------------------------------------
# Picking and the histogram payload


def test_pick_reads_the_full_resolution_depth_under_a_preview_pixel(loaded: Workspace, shared_exr_dir: Path):
    truth = read_depth(shared_exr_dir / F32)
    info = loaded.pick(384, 384)
    assert (info.x, info.y) == (600, 600) and loaded.current.rows[384] == 600
    assert info.depth == pytest.approx(float(truth.depth[600, 600]))
    assert loaded.picked == info
    assert loaded.pick(-5, 10_000).x == 0  # clamped into the image


def test_pick_on_background_says_so(tmp_path: Path):
    depth = daz_like_depth(64, 64, inf_pixels=0)
    depth[:8, :8] = np.inf
    path = tmp_path / "holes.exr"
    write_depth_exr(path, depth)
    ws = Workspace()
    ws.load([path])
    assert ws.pick(0, 0).depth is None


def test_histogram_payload_is_json_and_describes_the_file(loaded: Workspace):
    payload = json.loads(json.dumps(loaded.current.histogram_payload()))
    stats = loaded.current.stats
    assert sum(payload["counts"]) == stats.valid_count and len(payload["counts"]) >= 256
    assert payload["slider_min"] <= stats.nearest and payload["slider_max"] >= stats.farthest
    assert payload["suggestion"] == pytest.approx(loaded.current.suggestion.cutoff, abs=payload["step"])
    assert payload["far"] == loaded.current.params.depth_cutoff


def test_slider_steps_are_round_and_fine():
    from daz_depthmap.mapping import DepthStats

    assert slider_step(DepthStats(169.9, 606.6, 10, 0)) == pytest.approx(0.2)
    assert slider_step(DepthStats(2.27, 42.2, 10, 0)) == pytest.approx(0.02)
    assert slider_step(DepthStats(5.0, 5.0, 10, 0)) > 0


# --------------------------------------------------------------------------------------------------------------
# Writing


def test_write_current_writes_the_depth_png_and_the_mask_only_when_asked(loaded: Workspace, tmp_path, png_reader):
    out = tmp_path / "out"
    written = loaded.write_current(out)
    assert [p.name for p in written] == ["synthetic_daz_Y_f32_zip_1200.depth.png"]
    loaded.update(mask=True, bits=16)
    written = loaded.write_current(out)
    assert sorted(p.name for p in written) == sorted(
        ["synthetic_daz_Y_f32_zip_1200.depth.png", "synthetic_daz_Y_f32_zip_1200.mask.png"]
    )
    depth = png_reader(written[0])
    assert depth.dtype == np.uint16 and depth.shape == (1200, 1200) and depth.max() == 65535
    assert not list(out.glob("*.tmp"))


def test_upload_names_cannot_escape_the_output_folder(shared_exr_dir: Path, tmp_path: Path):
    ws = Workspace()
    ws.load([(shared_exr_dir / F32, "../../evil.exr")])
    out = tmp_path / "out"
    written = ws.write_current(out)
    assert all(p.parent == out for p in written)


def test_write_all_reports_progress_and_keeps_going_after_a_failure(shared_exr_dir: Path, tmp_path: Path):
    ws = Workspace()
    ws.load([shared_exr_dir / F32, shared_exr_dir / HALF])

    def broken() -> None:
        raise ValueError("the near cutoff 5 must be nearer than the far end 3")

    ws.get(F32).full_maps = broken  # type: ignore[method-assign]
    calls = []
    result = ws.write_all(tmp_path, lambda done, total, name: calls.append((done, total, name)))
    assert calls == [(0, 2, F32), (1, 2, HALF), (2, 2, "")]
    assert [p.name for p in result.written] == ["synthetic_daz_Y_half_zip_1200.depth.png"]
    assert result.errors == [f"{F32}: the near cutoff 5 must be nearer than the far end 3"]


def test_outputs_never_overwrite_a_loaded_input(shared_exr_dir: Path, tmp_path: Path):
    # inputs end in .exr and outputs in .png, so only a contrived upload can sit where an output goes
    clash = tmp_path / "scene.depth.png"
    clash.write_bytes((shared_exr_dir / F32).read_bytes())
    ws = Workspace()
    ws.load([(clash, "scene.exr")])
    with pytest.raises(OSError, match="refusing to overwrite"):
        ws.write_current(tmp_path)
    assert clash.read_bytes() == (shared_exr_dir / F32).read_bytes()
