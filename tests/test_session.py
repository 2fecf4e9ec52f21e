"""The session layer: loading, options, previews that match the output at 8 and 16 bits, the file view the page
gets, stale live requests, concurrent events, picking, writing."""

from __future__ import annotations

import json
import re
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from daz_depthmap.depth.histogram import suggest_cutoff
from daz_depthmap.exr import DepthReadError, depth_image, read_depth
from daz_depthmap.params import DepthParams
from daz_depthmap.render.pipeline import render
from daz_depthmap.session.batch import full_maps, taken_note, write_all, write_shown
from daz_depthmap.session.loaded import PREVIEW_SIDE, distinct_ranks, preview_indices, slider_step
from daz_depthmap.session.view import file_info, file_view
from daz_depthmap.session.workspace import StaleViewError, Workspace
from tests.synthetic import daz_like_depth, write_depth_exr

F32 = "synthetic_daz_Y_f32_zip_1200.exr"
HALF = "synthetic_daz_Y_half_zip_1200.exr"


@pytest.fixture
def loaded(shared_exr_dir: Path) -> Workspace:
    ws = Workspace(DepthParams(depth_cutoff="auto", seed=7))
    result = ws.load([shared_exr_dir / F32])
    assert result.loaded == [F32] and not result.errors
    return ws


def preview_of(ws: Workspace):
    shown = ws.require_shown()
    return shown.file.render_preview(shown.params)


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
    result = ws.load([(shared_exr_dir / F32, "scene.exr"), (shared_exr_dir / HALF, "Scene.exr")])
    assert result.loaded == ["scene.exr", "Scene.exr"]
    assert [ws.stem(k) for k in ws.keys] == ["scene", "Scene-2"]  # one folder: names clash whatever their case
    assert ws.get("scene.exr").name == "scene.exr"
    ws.remove("scene.exr")
    assert ws.stem("Scene.exr") == "Scene-2", "a file keeps the name it was shown with"


def test_file_info_tells_size_channel_range_background_and_output_name(loaded: Workspace):
    message = file_info(loaded.require_shown())
    assert "1200 × 1200 px" in message and "channel Y" in message
    assert "169.9" in message and "606.6" in message and "35 background px" in message
    assert "Suggested cutoff" in message and "synthetic_daz_Y_f32_zip_1200.depth.png" in message


def test_new_files_start_at_the_suggested_cutoff_or_the_given_one(shared_exr_dir: Path):
    auto = Workspace(DepthParams(depth_cutoff="auto"))
    auto.load([shared_exr_dir / F32])
    shown = auto.require_shown()
    suggestion = shown.file.suggestion(False)
    assert suggestion.cutoff is not None
    assert shown.params.depth_cutoff == pytest.approx(suggestion.cutoff, abs=shown.file.step / 10)
    assert 250 < shown.params.depth_cutoff < 290

    fixed = Workspace(DepthParams(depth_cutoff=240.0, bits=16, mask=True))
    fixed.load([shared_exr_dir / F32])
    assert fixed.require_shown().params.depth_cutoff == 240.0 and fixed.require_shown().params.bits == 16

    full = Workspace(DepthParams(depth_cutoff="histo"))
    full.load([shared_exr_dir / F32])
    shown = full.require_shown()
    assert shown.params.depth_cutoff is None
    assert shown.file.far_value(shown.params) == pytest.approx(shown.file.stats.farthest)


def test_each_file_has_a_fixed_noise_seed_so_preview_and_output_agree(shared_exr_dir: Path):
    ws = Workspace()
    ws.load([shared_exr_dir / F32, shared_exr_dir / HALF])
    assert all(isinstance(ws.params(k).seed, int) for k in ws.keys)
    ws.update(noise=True)
    assert np.array_equal(preview_of(ws).depth, preview_of(ws).depth)


# --------------------------------------------------------------------------------------------------------------
# Preview


def test_preview_indices_make_a_nearest_neighbour_copy_within_the_size():
    rows, cols = preview_indices(4096, 3000, 768)
    assert len(rows) == 768 and len(cols) == round(3000 * 768 / 4096)
    assert rows.min() >= 0 and rows.max() <= 4095 and cols.max() <= 2999
    assert np.all(np.diff(rows) > 0) and np.all(np.diff(cols) > 0)
    small_rows, small_cols = preview_indices(100, 80, 768)
    assert np.array_equal(small_rows, np.arange(100)) and np.array_equal(small_cols, np.arange(80))


@pytest.mark.parametrize("bits", [8, 16])
@pytest.mark.parametrize("compress", [False, True])
def test_preview_levels_equal_the_full_resolution_levels_at_the_sampled_pixels(loaded, compress, bits):
    shown = loaded.update(compress_map=compress, depth_cutoff=250.0, near_cutoff=180.0, bits=bits)
    preview = shown.file.render_preview(shown.params)
    full = full_maps(shown)
    at = np.ix_(shown.file.rows, shown.file.cols)
    assert max(preview.depth.shape) == PREVIEW_SIDE
    assert preview.levels.dtype == full.depth.dtype
    assert np.array_equal(preview.levels, full.depth[at])
    assert np.array_equal(preview.mask, full.mask[at])
    if bits == 16:  # the page shows 16-bit maps the way ControlNet gets them: rounded to 8 bits
        expected = ((full.depth[at].astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
        assert np.array_equal(preview.depth, expected)
    else:
        assert preview.depth is preview.levels


def test_moving_the_far_cutoff_nearer_darkens_the_subject_and_blacks_out_what_lies_beyond(loaded: Workspace):
    far = preview_of(loaded) if loaded.update(depth_cutoff=290.0) else None
    near = preview_of(loaded) if loaded.update(depth_cutoff=230.0) else None
    assert near.depth[:20, :20].max() == 0 and far.depth[:20, :20].max() == 0  # backdrop black
    lit = (far.depth > 0) & (near.depth > 0)
    assert np.all(near.depth[lit] <= far.depth[lit])
    assert np.count_nonzero(near.depth) < np.count_nonzero(far.depth)
    assert near.clipped_far > far.clipped_far
    entry = loaded.require_shown().file
    beyond = (entry.preview_depth >= 230.0) & entry.preview_valid
    assert near.clipped_far == pytest.approx(np.count_nonzero(beyond) / np.count_nonzero(entry.preview_valid))


def test_compress_map_ranks_are_computed_once_and_only_when_needed(loaded: Workspace):
    entry = loaded.require_shown().file
    preview_of(loaded)
    assert entry._preview_ranks is None
    loaded.update(compress_map=True)
    preview_of(loaded)
    ranks = entry.preview_ranks()
    preview_of(loaded)
    assert entry.preview_ranks() is ranks


def test_a_loaded_file_keeps_only_preview_sized_data_measured_by_the_allocator(tmp_path: Path):
    """tracemalloc counts what loading really keeps (numpy reports its buffers to it), not what the code says."""
    import gc
    import tracemalloc

    path = tmp_path / "big.exr"
    write_depth_exr(path, daz_like_depth(2048, 2048))
    full = 2048 * 2048 * 5  # float32 depth + bool mask
    ws = Workspace(DepthParams(depth_cutoff="auto"))
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        ws.load([path])
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
        entry = ws.require_shown().file
        assert kept < full / 6, f"a loaded 2048² file keeps {kept / 2**20:.1f} MiB"
        assert entry.nbytes <= kept  # the store's accounting does not overstate
        ws.update(compress_map=True)
        preview_of(ws)
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
        # the distinct depths and the preview pixels' ranks, not 4.2 M full-resolution ranks (16 MiB)
        assert kept < full / 2, f"with compress_map a loaded 2048² file keeps {kept / 2**20:.1f} MiB"
    finally:
        tracemalloc.stop()


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
    assert full_maps(ws.require_shown()).depth.shape == (1200, 1200)
    upload.unlink()
    message = "scene.exr: the uploaded file is no longer available; upload it again"
    with pytest.raises(DepthReadError, match=re.escape(message)):
        full_maps(ws.require_shown())
    with pytest.raises(DepthReadError, match=re.escape(message)):
        ws.set_channel("Z")
    assert preview_of(ws).depth.shape == (PREVIEW_SIDE, PREVIEW_SIDE)  # the preview still works
    write_depth_exr(command_line, daz_like_depth(64, 64))  # replaced by another render
    result = write_all(ws.everything(), tmp_path / "out", ws.protected())
    assert result.written == []
    assert result.errors == [message, "cli.exr: the file changed since it was loaded; load it again"]


def test_invert_makes_the_largest_values_white_in_a_new_view(loaded: Workspace):
    view = loaded.view
    shown = loaded.set_invert(True)
    assert shown.view == view + 1 and shown.params.depth_cutoff is None
    assert np.median(preview_of(loaded).depth[:20, :20]) > 240  # the backdrop is the largest value: now white


def test_inverted_input_gets_its_own_suggested_cutoff(shared_exr_dir: Path):
    truth = read_depth(shared_exr_dir / F32)
    ws = Workspace(DepthParams(depth_cutoff="auto", invert=True))
    ws.load([shared_exr_dir / F32])
    shown = ws.require_shown()
    entry = shown.file
    expected = suggest_cutoff(truth.depth, entry.stats, invert=True)
    assert expected.cutoff is not None and entry.suggestion(True) == expected
    assert shown.params.depth_cutoff == pytest.approx(expected.cutoff, abs=entry.step / 10)  # starts there
    assert file_view(shown)["suggestion"] == pytest.approx(expected.cutoff, abs=entry.step / 10)
    assert expected.reason in file_info(shown)
    plain = ws.set_invert(False)
    plain_expected = suggest_cutoff(truth.depth, entry.stats).cutoff
    assert file_view(plain)["suggestion"] == pytest.approx(plain_expected, abs=entry.step / 10)


# --------------------------------------------------------------------------------------------------------------
# Options, views and concurrent events


def test_cutoffs_at_the_ends_of_the_range_mean_no_cutoff(loaded: Workspace):
    stats = loaded.require_shown().file.stats
    params = loaded.update(depth_cutoff=stats.farthest + 5, near_cutoff=stats.nearest - 1).params
    assert params.depth_cutoff is None and params.near_cutoff is None


def test_a_near_cutoff_beyond_the_far_one_is_refused_and_nothing_changes(loaded: Workspace):
    before = loaded.update(depth_cutoff=250.0).params
    with pytest.raises(ValueError, match="near cutoff"):
        loaded.update(near_cutoff=260.0)
    assert loaded.require_shown().params == before


def test_live_cutoffs_for_another_file_or_an_older_view_change_nothing(shared_exr_dir: Path):
    """A request still on its way when the page switched files used to set the other file's cutoff."""
    ws = Workspace(DepthParams(depth_cutoff="auto"))
    ws.load([shared_exr_dir / F32, shared_exr_dir / HALF])
    first = ws.require_shown()
    ws.set_cutoffs(250.0, None, first.file.key, first.view)
    assert ws.params(F32).depth_cutoff == 250.0
    second = ws.select(HALF)
    before = ws.params(HALF)
    with pytest.raises(StaleViewError):
        ws.set_cutoffs(240.0, None, F32, first.view)  # made on the first file, arrived after the switch
    with pytest.raises(StaleViewError):
        ws.set_cutoffs(240.0, None, HALF, first.view)  # same key, but an older view
    assert ws.params(HALF) == before and ws.params(F32).depth_cutoff == 250.0
    assert ws.set_cutoffs(240.0, None, HALF, second.view).params.depth_cutoff == 240.0
    inverted = ws.set_invert(True)
    with pytest.raises(StaleViewError):
        ws.set_cutoffs(230.0, None, HALF, second.view)  # Invert reset the cutoffs: a new view
    assert ws.set_cutoffs(None, None, HALF, inverted.view).params.invert


def test_concurrent_events_on_one_workspace_never_mix_files(shared_exr_dir: Path):
    """Live requests, option changes and file switches at once: every snapshot is one file with its own options."""
    ws = Workspace(DepthParams(depth_cutoff="auto"))
    ws.load([shared_exr_dir / F32, shared_exr_dir / HALF])
    targets = {F32: 250.0, HALF: 260.0}
    problems: list[str] = []
    stop = threading.Event()

    def switcher() -> None:
        while not stop.is_set():
            for key in targets:
                ws.select(key)

    def live() -> None:
        for _ in range(300):
            shown = ws.require_shown()
            try:
                after = ws.set_cutoffs(targets[shown.file.key], None, shown.file.key, shown.view)
            except StaleViewError:
                continue
            if after.params.depth_cutoff != targets[after.file.key]:
                problems.append(f"{after.file.key} got {after.params.depth_cutoff}")
            preview = after.file.render_preview(after.params)
            if preview.window.far != targets[after.file.key]:
                problems.append(f"preview of {after.file.key} used far {preview.window.far}")

    def options() -> None:
        for index in range(300):
            ws.update(mask=bool(index % 2))

    threads = [threading.Thread(target=f) for f in (switcher, live, live, options)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # hand the GIL round often: the busy switcher no longer starves the others
    try:
        for thread in threads:
            thread.start()
        for thread in threads[1:]:
            thread.join()
        stop.set()
        threads[0].join()
    finally:
        sys.setswitchinterval(interval)
    assert problems == []
    for key, far in targets.items():
        assert ws.params(key).depth_cutoff in (far, None) or ws.params(key).depth_cutoff == pytest.approx(
            ws.get(key).suggestion(False).cutoff, abs=ws.get(key).step
        )


def test_without_a_file_every_action_says_what_to_do():
    ws = Workspace()
    for action in (ws.require_shown, lambda: ws.update(mask=True), lambda: ws.pick(1, 1)):
        with pytest.raises(ValueError, match="no file loaded"):
            action()


def test_each_file_keeps_its_own_options(shared_exr_dir: Path):
    ws = Workspace()
    ws.load([shared_exr_dir / F32, shared_exr_dir / HALF])
    ws.update(depth_cutoff=240.0, mask=True)
    ws.select(HALF)
    ws.update(depth_cutoff=260.0, bits=16)
    assert ws.params(F32).depth_cutoff == 240.0 and ws.params(F32).mask
    assert ws.params(HALF).depth_cutoff == 260.0 and not ws.params(HALF).mask
    assert ws.select(F32).params.bits == 8


def test_choosing_another_channel_reads_the_file_again(shared_exr_dir: Path):
    ws = Workspace()
    ws.load([shared_exr_dir / "oei_Beachball_singlepart_0001.exr"])
    entry = ws.require_shown().file
    assert entry.channel == "Z" and "left.Z" in entry.channels
    ws.update(mask=True, bits=16)
    view = ws.view
    other = ws.set_channel("left.Z")
    assert other.file.channel == "left.Z" and ws.require_shown().file is other.file and other.view == view + 1
    assert other.params.mask and other.params.bits == 16
    assert not np.array_equal(other.file.preview_depth, entry.preview_depth)
    assert full_maps(other).depth.shape == (1556, 2048)
    with pytest.raises(Exception, match="no channel named"):
        ws.set_channel("nope")
    assert ws.require_shown().file is other.file


def test_a_file_without_a_recognisable_depth_channel_is_shown_on_r_with_a_warning(shared_exr_dir: Path):
    name = "exrs_f32_rle_RGBA.exr"
    ws = Workspace()
    result = ws.load([shared_exr_dir / name])
    assert result.loaded == [name] and not result.errors
    hint = "no depth channel recognised; showing R — pick the depth channel in the Channel menu"
    assert result.warnings == [f"{name}: {hint}"]
    shown = ws.require_shown()
    assert shown.file.channel == "R" and set(shown.file.channels) == {"R", "G", "B", "A"}
    assert hint in file_info(shown)  # the warning stays readable in the file's info
    truth = read_depth(shared_exr_dir / name, "R")
    assert np.array_equal(full_maps(shown).depth, render(truth, shown.params).depth)  # the outputs use R too
    other = ws.set_channel("G")
    assert other.file.channel == "G" and hint not in file_info(other)


def test_remove_forgets_the_file_and_shows_the_next(shared_exr_dir: Path):
    ws = Workspace()
    ws.load([shared_exr_dir / F32, shared_exr_dir / HALF])
    ws.remove(F32)
    assert ws.keys == [HALF] and ws.current_key == HALF
    ws.remove(HALF)
    assert ws.keys == [] and ws.shown() is None


# --------------------------------------------------------------------------------------------------------------
# Picking and the file view


def test_pick_reads_the_full_resolution_depth_under_a_preview_pixel(loaded: Workspace, shared_exr_dir: Path):
    truth = read_depth(shared_exr_dir / F32)
    info = loaded.pick(384, 384)
    assert (info.x, info.y) == (600, 600) and loaded.require_shown().file.rows[384] == 600
    assert info.depth == pytest.approx(float(truth.depth[600, 600]))
    assert loaded.pick(-5, 10_000).x == 0  # clamped into the image


def test_pick_on_background_says_so(tmp_path: Path):
    depth = daz_like_depth(64, 64, inf_pixels=0)
    depth[:8, :8] = np.inf
    path = tmp_path / "holes.exr"
    write_depth_exr(path, depth)
    ws = Workspace()
    ws.load([path])
    assert ws.pick(0, 0).depth is None


def test_the_file_view_is_json_and_names_the_file_and_view(loaded: Workspace):
    shown = loaded.require_shown()
    payload = json.loads(json.dumps(file_view(shown)))
    stats = shown.file.stats
    assert payload["key"] == F32 and payload["view"] == shown.view
    assert sum(payload["counts"]) == stats.valid_count and len(payload["counts"]) >= 256
    assert payload["slider_min"] <= stats.nearest and payload["slider_max"] >= stats.farthest
    assert payload["suggestion"] == pytest.approx(shown.file.suggestion(False).cutoff, abs=payload["step"])
    assert payload["far"] == shown.params.depth_cutoff


def test_slider_steps_are_round_and_fine():
    from daz_depthmap.depth.mapping import DepthStats

    assert slider_step(DepthStats(169.9, 606.6, 10, 0)) == pytest.approx(0.2)
    assert slider_step(DepthStats(2.27, 42.2, 10, 0)) == pytest.approx(0.02)
    assert slider_step(DepthStats(5.0, 5.0, 10, 0)) > 0


# --------------------------------------------------------------------------------------------------------------
# Writing


def test_write_shown_writes_the_depth_png_and_the_mask_only_when_asked(loaded: Workspace, tmp_path, png_reader):
    out = tmp_path / "out"
    written = write_shown(loaded.require_shown(), out, loaded.protected())
    assert [p.name for p in written] == ["synthetic_daz_Y_f32_zip_1200.depth.png"]
    written = write_shown(loaded.update(mask=True, bits=16), out, loaded.protected())
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
    written = write_shown(ws.require_shown(), out, ws.protected())
    assert all(p.parent == out for p in written)


def test_write_all_reports_progress_and_keeps_going_after_a_failure(shared_exr_dir: Path, tmp_path: Path):
    ws = Workspace()
    ws.load([shared_exr_dir / F32, shared_exr_dir / HALF])

    def broken() -> None:
        raise ValueError("the near cutoff 5 must be nearer than the far end 3")

    ws.get(F32).read_full = broken  # type: ignore[method-assign]
    calls = []
    result = write_all(ws.everything(), tmp_path, ws.protected(), lambda *a: calls.append(a))
    assert calls == [(0, 2, F32), (1, 2, HALF), (2, 2, "")]
    assert [p.name for p in result.written] == ["synthetic_daz_Y_half_zip_1200.depth.png"]
    assert result.errors == [f"{F32}: the near cutoff 5 must be nearer than the far end 3"]


def test_outputs_never_overwrite_a_loaded_input(shared_exr_dir: Path, tmp_path: Path):
    # inputs end in .exr and outputs in .png, so only a contrived upload can sit where an output goes
    clash = tmp_path / "scene.depth.png"
    clash.write_bytes((shared_exr_dir / F32).read_bytes())
    ws = Workspace()
    ws.load([(clash, "scene.exr")])
    written = write_shown(ws.require_shown(), tmp_path, ws.protected())  # the name is taken: the next one
    assert [p.name for p in written] == ["scene-2.depth.png"]
    assert clash.read_bytes() == (shared_exr_dir / F32).read_bytes()


def test_a_save_replaces_its_own_earlier_output_and_no_one_elses(shared_exr_dir: Path, tmp_path: Path):
    """Issue 16 (7): two sessions saving their own scene.exr were both told "Wrote scene.depth.png"; the second
    replaced the first's file."""
    first, second = Workspace(), Workspace()
    for ws in (first, second):
        ws.load([(shared_exr_dir / F32, "scene.exr")])
    mine = write_shown(first.require_shown(), tmp_path, first.protected())
    assert [p.name for p in mine] == ["scene.depth.png"]
    kept = mine[0].read_bytes()
    theirs = write_shown(second.update(mask=True), tmp_path, second.protected())
    assert [p.name for p in theirs] == ["scene-2.depth.png", "scene-2.mask.png"]
    assert taken_note(second.require_shown(), theirs) == (
        "scene.depth.png in that folder is not this file's own earlier output (another page's or program's): "
        "saved as scene-2.* instead"
    )
    assert mine[0].read_bytes() == kept
    again = write_shown(first.update(bits=16), tmp_path, first.protected())  # its own earlier file: replaced
    assert again == mine and again[0].read_bytes() != kept and taken_note(first.require_shown(), again) is None
    assert write_shown(second.require_shown(), tmp_path, second.protected()) == theirs
    mine[0].unlink()
    mine[0].write_bytes(b"put there by hand")  # the same name, but no longer the file it wrote
    moved = write_shown(first.require_shown(), tmp_path, first.protected())
    assert [p.name for p in moved] == ["scene-3.depth.png"] and mine[0].read_bytes() == b"put there by hand"
    first.remove("scene.exr")
    first.load([(shared_exr_dir / F32, "scene.exr")])  # loaded again: a new file, which owns nothing yet
    assert [p.name for p in write_shown(first.require_shown(), tmp_path, first.protected())] == ["scene-4.depth.png"]


def test_two_files_of_one_session_never_replace_each_others_outputs(shared_exr_dir: Path, tmp_path: Path):
    ws = Workspace()
    ws.load([(shared_exr_dir / F32, "scene.exr"), (shared_exr_dir / HALF, "scene-2.exr")])
    (tmp_path / "scene.depth.png").write_bytes(b"another program's")
    first = write_shown(ws.require_shown(), tmp_path, ws.protected())
    assert [p.name for p in first] == ["scene-2.depth.png"]  # scene.depth.png is not its own
    second = write_shown(ws.select("scene-2.exr"), tmp_path, ws.protected())
    assert [p.name for p in second] == ["scene-2-2.depth.png"], "the first file's output is not the second's"
    assert (tmp_path / "scene.depth.png").read_bytes() == b"another program's"


def test_an_unforeseen_failure_of_one_file_is_logged_and_the_others_still_load(
    shared_exr_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    from daz_depthmap.session import workspace

    real = workspace.read_depth

    def flaky(path, channel=None, max_pixels=None):
        if Path(path).name == F32:
            raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")  # seen on fuzzed headers
        return real(path, channel, max_pixels)

    monkeypatch.setattr(workspace, "read_depth", flaky)
    result = Workspace().load([shared_exr_dir / F32, shared_exr_dir / HALF])
    assert result.loaded == [HALF]
    assert result.errors == [
        f"{F32}: could not be loaded (UnicodeDecodeError: 'utf-8' codec can't decode byte 0xff "
        "in position 0: invalid start byte)"
    ]
    assert any(r.levelname == "ERROR" and F32 in r.getMessage() and r.exc_info for r in caplog.records)
