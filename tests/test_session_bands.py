"""Bands in the session layer: the plan a preview and the outputs share, splits the cutoffs leave out, manual
levels that do not add up, the test-colour and region looks, recipes out of the tab and into it, Process all with
one recipe. Real EXR files written to disk, real PNG decoding."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from daz_depthmap.bands.plan import BandPlan, split_plan
from daz_depthmap.bands.regions import region_colour
from daz_depthmap.params import DepthParams
from daz_depthmap.render.recipe import recipe_from_json, recipe_to_json
from daz_depthmap.session.banding import BandSettings, LevelMode
from daz_depthmap.session.batch import recipe_of, write_all, write_shown
from daz_depthmap.session.view import file_view, live_reply
from daz_depthmap.session.workspace import Workspace
from tests.synthetic import two_subject_depth, write_depth_exr

NEAR_SPLIT = 265.0  # between the near figure (150..210) and the far one (330..400)


@pytest.fixture
def scene(tmp_path: Path) -> Path:
    path = tmp_path / "scene.exr"
    write_depth_exr(path, two_subject_depth(300, 240, seed=4))
    return path


@pytest.fixture
def ws(scene: Path) -> Workspace:
    ws = Workspace(DepthParams(depth_cutoff=500.0, seed=3))
    assert ws.load([scene]).loaded == ["scene.exr"]
    return ws


def two_bands(levels: tuple[int, int] | None = None, regions: bool = True) -> BandPlan:
    plan = split_plan([NEAR_SPLIT])
    for i in range(2):
        changes: dict = {"label": ("near figure", "far figure")[i]}
        if regions:
            changes["region"] = i
        if levels is not None:
            changes.update(levels=levels[i], locked=True)
        plan = plan.with_band(i, **changes)
    return plan


def read_png(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert image is not None
    return image[..., ::-1] if image.ndim == 3 else image


def test_the_preview_and_the_written_map_share_one_plan(ws: Workspace, scene: Path, tmp_path: Path):
    shown = ws.set_bands(BandSettings(two_bands((150, 106))))
    preview = shown.render_preview()
    assert preview.bands.banded and preview.bands.problem is None
    depth = two_subject_depth(300, 240, seed=4)
    near = depth[np.ix_(shown.file.rows, shown.file.cols)] < NEAR_SPLIT
    assert preview.levels[near].min() >= 106  # the near figure owns the top 150 levels
    written = write_shown(shown, tmp_path / "out", [scene])
    assert sorted(p.name for p in written) == ["scene.depth.png", "scene.regions.png"]
    full = read_png(tmp_path / "out" / "scene.depth.png")
    np.testing.assert_array_equal(full[np.ix_(shown.file.rows, shown.file.cols)], preview.levels)
    regions = read_png(tmp_path / "out" / "scene.regions.png")
    assert (regions[depth < NEAR_SPLIT] == region_colour(0)).all()
    assert (regions[(depth >= NEAR_SPLIT) & (depth < 500)] == region_colour(1)).all()
    assert (regions[depth >= 500] == 0).all()


def test_allocated_levels_follow_the_pixels_and_reach_the_page(ws: Workspace):
    shown = ws.set_bands(BandSettings(two_bands(), LevelMode.PIXELS))
    view = file_view(shown)["bands"]
    levels = [band["levels"] for band in view["bands"]]
    shares = [band["share"] for band in view["bands"]]
    assert sum(levels) == 256 == view["total"]
    assert levels[0] / 256 == pytest.approx(shares[0], abs=0.01)  # levels where the pixels are
    assert view["problem"] is None and view["splits"] == [NEAR_SPLIT]
    equal = ws.set_bands(BandSettings(two_bands(), LevelMode.EQUAL))
    assert [band["levels"] for band in file_view(equal)["bands"]["bands"]] == [128, 128]


def test_manual_levels_that_do_not_add_up_are_said_and_not_written(ws: Workspace, scene: Path, tmp_path: Path):
    shown = ws.set_bands(BandSettings(two_bands((150, 100)), LevelMode.MANUAL))
    preview = shown.render_preview()
    assert preview.bands.plan is None
    assert preview.bands.problem == "levels add up to 250 of 256: 6 left to give"
    assert file_view(shown)["bands"]["problem"] == preview.bands.problem
    with pytest.raises(ValueError, match="the bands cannot be used: levels add up to 250 of 256"):
        write_shown(shown, tmp_path / "out", [scene])
    assert not (tmp_path / "out" / "scene.depth.png").exists()


def test_a_split_beyond_the_far_cutoff_waits_for_it(ws: Workspace):
    shown = ws.set_bands(BandSettings(two_bands()))
    key, view = shown.file.key, shown.view
    shown = ws.set_cutoffs(240.0, None, key, view)  # the far cutoff in front of the split
    preview = shown.render_preview()
    assert preview.bands.outside == (0,) and not preview.bands.banded and preview.bands.problem is None
    assert preview.bands.notes() == ["split 1 (265) outside the cutoffs: ignored until the cutoffs take them in again"]
    assert [b["active"] for b in live_reply(shown, preview)["bands"]["bands"]] == [True, False]
    assert ws.require_shown().bands.plan.splits == (NEAR_SPLIT,)  # kept for later
    back = ws.set_cutoffs(500.0, None, key, view).render_preview()
    assert back.bands.banded and back.bands.outside == ()


def test_looks_paint_test_colours_and_the_region_map(ws: Workspace):
    ws.set_bands(BandSettings(two_bands()))
    shown = ws.set_look("test")
    assert shown is not None
    test = shown.render_preview()
    near = shown.file.preview_depth < NEAR_SPLIT
    far = (shown.file.preview_depth >= NEAR_SPLIT) & (shown.file.preview_depth < 500)
    assert test.picture.shape == (*near.shape, 3)
    hue = cv2.cvtColor(np.ascontiguousarray(test.picture[..., ::-1]), cv2.COLOR_BGR2HSV)[..., 0]
    assert set(np.unique(hue[near])).isdisjoint(np.unique(hue[far]))  # two bands, two colours
    regions = ws.set_look("regions").render_preview()
    assert (regions.picture[near] == region_colour(0)).all() and (regions.picture[far] == region_colour(1)).all()
    ws.set_bands(BandSettings(two_bands(regions=False)))
    blank = ws.require_shown().render_preview()
    assert not blank.bands.regions and not blank.picture.any()  # no band has a region: nothing to paint
    with pytest.raises(ValueError, match="the preview shows one of depth, test, regions"):
        ws.set_look("normals")


def test_a_recipe_from_the_tab_maps_another_frame_exactly(ws: Workspace, tmp_path: Path):
    ws.set_bands(BandSettings(two_bands(), LevelMode.PIXELS))
    text = recipe_to_json(recipe_of(ws.require_shown()))
    recipe = recipe_from_json(text)
    assert recipe.fixed and [b.levels for b in recipe.plan.bands] == [
        b["levels"] for b in file_view(ws.require_shown())["bands"]["bands"]
    ]
    nearer = two_subject_depth(300, 240, seed=4)
    nearer[nearer > 450] = 430.0  # the next frame's backdrop is nearer than the recipe's far cutoff (500)
    other = tmp_path / "other.exr"
    write_depth_exr(other, nearer)
    second = Workspace(DepthParams(depth_cutoff="auto"))
    second.load([other])
    shown = second.apply_recipe(recipe)
    assert shown.params.depth_cutoff == 500.0  # beyond this file's farthest depth, and still exact
    assert shown.bands.mode is LevelMode.MANUAL
    page = file_view(shown)
    assert page["slider_max"] >= 500.0
    shown = second.set_cutoffs(page["far"], page["near"], shown.file.key, shown.view)  # the page sends it back
    assert shown.params.depth_cutoff == 500.0
    assert json.loads(recipe_to_json(recipe_of(shown)))["bands"] == json.loads(text)["bands"]


def test_process_all_with_one_recipe_gives_frames_the_same_levels(tmp_path: Path):
    first, second = two_subject_depth(300, 240, seed=4), two_subject_depth(300, 240, seed=4)
    second[:, :80] = 190.0  # a wall in the next frame changes the pixel shares
    frames = []
    for i, depth in enumerate((first, second), 1):
        frames.append(tmp_path / f"f{i}.exr")
        write_depth_exr(frames[-1], depth)
    ws = Workspace(DepthParams(depth_cutoff="auto", seed=1))
    ws.load(frames)
    for key in ws.keys:
        ws.select(key)
        ws.set_bands(BandSettings(two_bands(), LevelMode.PIXELS))
    ws.select("f1.exr")
    own = write_all(ws.everything(), tmp_path / "own", frames)
    same = write_all(ws.everything(), tmp_path / "same", frames, recipe=recipe_of(ws.require_shown()))
    assert not own.errors and not same.errors
    unchanged = first == second
    own1, own2 = (read_png(tmp_path / "own" / f"f{i}.depth.png") for i in (1, 2))
    same1, same2 = (read_png(tmp_path / "same" / f"f{i}.depth.png") for i in (1, 2))
    assert (own1[unchanged] != own2[unchanged]).any()  # each with its own pixel shares: the frames flicker
    np.testing.assert_array_equal(same1[unchanged], same2[unchanged])
    np.testing.assert_array_equal(same1, own1)


def test_inverting_starts_the_bands_afresh(ws: Workspace):
    ws.set_bands(BandSettings(two_bands(), LevelMode.EQUAL, split_parts=True, min_area=30))
    shown = ws.set_invert(True)
    assert shown.bands.plan == BandPlan() and shown.bands.mode is LevelMode.EQUAL and shown.bands.min_area == 30
