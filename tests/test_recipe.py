"""Recipes: round trip through JSON, validation messages that name the place, and one recipe mapping many frames
the same way."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daz_depthmap.bands.plan import Band, BandPlan, apportion
from daz_depthmap.depth.mapping import depth_stats, depth_window
from daz_depthmap.exr import depth_image, read_depth
from daz_depthmap.params import MAX_CUTOFF, DepthParams, params_from_mapping
from daz_depthmap.render.pipeline import NoDepthError, render
from daz_depthmap.render.recipe import (
    RECIPE_FORMAT,
    Recipe,
    RecipeError,
    apply_recipe,
    freeze_recipe,
    recipe_from_dict,
    recipe_from_json,
    recipe_to_dict,
    recipe_to_json,
)
from tests.synthetic import two_subject_depth

EXAMPLE = {
    "format": "daz-depthmap-recipe",
    "version": 1,
    "cutoffs": {"depth_cutoff": 420.0, "near_cutoff": 140.0},
    "options": {"compress_map": False, "mask": True, "noise": False, "seed": None, "bits": 16, "invert": False,
                "channel": None},
    "bands": [
        {"end": 265.0, "levels": 150, "label": "near figure", "colour": "orange", "region": 0, "locked": True},
        {"end": None, "levels": 106, "label": "far figure", "region": 1},
    ],
}  # fmt: skip


def document(**changes):
    data = json.loads(json.dumps(EXAMPLE))
    for path, value in changes.items():
        *parents, key = path.split("__")
        target = data
        for parent in parents:
            target = target[int(parent)] if parent.isdigit() else target[parent]
        if value is ...:
            del target[int(key) if key.isdigit() else key]
        else:
            target[int(key) if key.isdigit() else key] = value
    return data


def test_the_example_reads_and_writes_back():
    recipe = recipe_from_dict(EXAMPLE)
    assert recipe.params == DepthParams(depth_cutoff=420.0, near_cutoff=140.0, mask=True, bits=16)
    assert recipe.plan == BandPlan(
        (265.0,), (Band(150, "near figure", "orange", 0, locked=True), Band(106, "far figure", region=1))
    )
    assert recipe_to_dict(recipe) == EXAMPLE
    text = recipe_to_json(recipe)
    assert json.loads(text)["format"] == RECIPE_FORMAT and text.endswith("\n")
    assert recipe_from_json(text) == recipe


def test_left_out_sections_take_the_defaults():
    recipe = recipe_from_dict({"format": "daz-depthmap-recipe", "version": 1})
    assert recipe == Recipe(DepthParams(), BandPlan())
    assert recipe.plan.bands == (Band(256),)


@st.composite
def recipes(draw):
    invert = draw(st.booleans())
    count = draw(st.integers(1, 5))
    cuts = sorted(set(draw(st.lists(st.floats(1.0, 1e5), min_size=count - 1, max_size=count - 1))))
    splits = tuple(reversed(cuts)) if invert else tuple(cuts)
    weights = draw(st.lists(st.integers(0, 9), min_size=len(splits) + 1, max_size=len(splits) + 1))
    bands = tuple(
        Band(
            int(n),
            draw(st.text(max_size=10).filter(lambda s: "\n" not in s and "\r" not in s)),
            draw(st.sampled_from(["", "teal", "#a0b1c2"])),
            draw(st.none() | st.integers(0, 359)),
            draw(st.booleans()),
        )
        for n in apportion(weights, 256)
    )
    near = draw(st.none() | st.just(0.5 if not invert else 2e5))
    far = draw(st.none() | st.just(2e5 if not invert else 0.5))
    params = DepthParams(
        depth_cutoff=far,
        near_cutoff=near,
        compress_map=draw(st.booleans()),
        mask=draw(st.booleans()),
        noise=draw(st.booleans()),
        seed=draw(st.none() | st.integers(0, 2**63 - 1)),
        bits=draw(st.sampled_from([8, 16])),
        invert=invert,
        channel=draw(st.none() | st.sampled_from(["Z", "depth.Z", "part/Y"])),
    )
    return Recipe(params, BandPlan(splits, bands))


@settings(max_examples=100, deadline=None)
@given(recipes())
def test_round_trip(recipe):
    assert recipe_from_json(recipe_to_json(recipe)) == recipe


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"bands__1__levels": -3}, "bands[1].levels: expected a whole number 0..256, got -3"),
        ({"bands__0__levels": 90.5}, "bands[0].levels: expected a whole number 0..256, got 90.5"),
        ({"bands__0__levels": ...}, "bands[0].levels: missing: every band needs its levels"),
        ({"bands__1__levels": 100}, "bands: levels add up to 250 of 256: 6 left to give"),
        ({"bands__0__end": None}, "bands[0].end: expected a depth number (only the last band's end is null), got null"),
        ({"bands__1__end": 300.0}, "bands[1].end: expected null (the last band ends at the far cutoff), got 300.0"),
        ({"bands__0__end": 500.0}, "bands: split 1 at 500 lies outside the window from the near end 140 to the far"),
        ({"bands__0__colour": "blurple"}, "bands[0].colour: unknown colour 'blurple'"),
        ({"bands__0__region": 400}, "bands[0].region: expected null or a whole number 0..359, got 400"),
        ({"bands__0__label": "a\nb"}, "bands[0].label: expected one line of text"),
        ({"bands__0__locked": "yes"}, 'bands[0].locked: expected true or false, got "yes"'),
        ({"bands__0__shade": 3}, "bands[0].shade: unknown key in bands[0] (known: end, levels, label, colour, region"),
        ({"bands": []}, "bands: expected a list of at least one band, got []"),
        ({"bands__0": 7}, "bands[0]: expected a band as a JSON object, got 7"),
        ({"cutoffs__depth_cutoff": "auto"}, "cutoffs.depth_cutoff: expected a number or null (a recipe holds depths"),
        ({"cutoffs__near_cutoff": 500.0}, "cutoffs.near_cutoff: 500 must be nearer than the depth_cutoff 420"),
        ({"options__bits": 12}, "options.bits: expected 8 or 16, got 12"),
        ({"options__mask": 1}, "options.mask: expected true or false, got 1"),
        ({"options__seed": -1}, "options.seed: expected null or a whole number 0..2**63-1, got -1"),
        ({"options__channel": 5}, "options.channel: expected null or a channel name, got 5"),
        ({"options__colour_map": True}, "options.colour_map: unknown key in options (known: compress_map, mask, noise"),
        ({"extra": 1}, "extra: unknown key at the top level (known: format, version, cutoffs, options, bands)"),
        ({"version": 2}, "version: this program reads version 1 recipes, not version 2"),
        ({"version": "1"}, 'version: expected a whole number, got "1"'),
        ({"format": "something-else"}, "format: expected 'daz-depthmap-recipe', got \"something-else\": not a recipe"),
        ({"format": ...}, "format: expected 'daz-depthmap-recipe', got null: not a recipe"),
    ],
)
def test_validation_names_the_place_and_the_problem(changes, message):
    with pytest.raises(RecipeError) as error:
        recipe_from_dict(document(**changes))
    assert message in str(error.value), str(error.value)
    assert str(error.value).startswith(error.value.path)


def test_inverted_recipes_run_their_bands_from_large_to_small():
    data = document(options__invert=True, cutoffs__depth_cutoff=1.0, cutoffs__near_cutoff=10.0, bands__0__end=5.0)
    assert recipe_from_dict(data).plan.splits == (5.0,)
    three = document(options__invert=True, cutoffs__depth_cutoff=None, cutoffs__near_cutoff=None)
    three["bands"] = [{"end": 5.0, "levels": 100}, {"end": 7.0, "levels": 100}, {"end": None, "levels": 56}]
    with pytest.raises(
        RecipeError, match=r"bands\[1\].end: 7 must be farther \(smaller, since inverted\) than bands\[0\].end 5"
    ):
        recipe_from_dict(three)


def test_text_that_is_not_a_recipe():
    with pytest.raises(RecipeError, match="not JSON: Expecting value at line 1 column 1"):
        recipe_from_json("cutoff = 420")
    with pytest.raises(RecipeError, match="not JSON: NaN is not a JSON number"):
        recipe_from_json('{"format": "daz-depthmap-recipe", "version": 1, "cutoffs": {"depth_cutoff": NaN}}')
    with pytest.raises(RecipeError, match="expected the recipe as a JSON object, got"):
        recipe_from_json("[1, 2]")
    with pytest.raises(ValueError, match="a recipe holds depths"):
        Recipe(DepthParams(depth_cutoff="auto"))
    with pytest.raises(RecipeError, match="^not a recipe: nested too deeply$"):
        recipe_from_json("[" * 20000 + "]" * 20000)
    with pytest.raises(RecipeError, match="^not a recipe: nested too deeply$"):
        recipe_from_json('{"format": ' + "[" * 20000 + "]" * 20000 + "}")
    bom = "\ufeff" + recipe_to_json(Recipe())
    assert recipe_from_json(bom) == Recipe()


def frames():
    """Two frames of one scene; the second has something nearer at the top and farther at the bottom, so its depth
    range differs, while the rows between hold the same depths."""
    first = two_subject_depth(240, 200, seed=1)
    second = first.copy()
    second[:20] = 120.0
    second[-20:] = 1500.0
    return depth_image(first), depth_image(second)


def test_one_recipe_maps_every_frame_the_same_way():
    recipe = recipe_from_dict(document(cutoffs__depth_cutoff=420.0, cutoffs__near_cutoff=140.0))
    first, second = frames()
    a, b = depth_stats(first.depth, first.valid), depth_stats(second.depth, second.valid)
    assert (a.nearest, a.farthest) != (b.nearest, b.farthest), "the frames' ranges differ"
    map_a, map_b = apply_recipe(recipe, first), apply_recipe(recipe, second)
    assert map_a.depth.dtype == np.uint16 and map_a.mask is not None
    assert map_a.window == map_b.window
    np.testing.assert_array_equal(map_a.depth[20:-20], map_b.depth[20:-20])
    assert len(np.unique(map_a.depth[20:-20])) > 1000


def test_a_cutoff_left_null_follows_each_frame():
    recipe = recipe_from_dict(document(cutoffs__near_cutoff=None))
    assert not recipe.fixed
    first, second = frames()
    map_a, map_b = apply_recipe(recipe, first), apply_recipe(recipe, second)
    assert map_a.window.near != map_b.window.near
    assert np.any(map_a.depth[20:-20] != map_b.depth[20:-20]), "the same depths map differently"


def test_freezing_pins_the_window_a_frame_was_mapped_with():
    image = frames()[0]
    stats = depth_stats(image.depth, image.valid)
    window = depth_window(stats, 420.0)
    plan = BandPlan((265.0,), (Band(150), Band(106)))
    recipe = freeze_recipe(DepthParams(depth_cutoff="auto", bits=8), plan, window)
    assert recipe.fixed and recipe.params.near_cutoff == stats.nearest and recipe.params.depth_cutoff == 420.0
    assert recipe_from_json(recipe_to_json(recipe)) == recipe
    assert apply_recipe(recipe, image).window == window


def test_mask_noise_and_compress_from_the_recipe():
    image = frames()[0]
    recipe = recipe_from_dict(
        document(options__noise=True, options__seed=7, options__bits=8, options__compress_map=True)
    )
    result = apply_recipe(recipe, image)
    beyond = image.valid & (image.depth > 420.0)
    assert np.all(result.mask[beyond] == 0) and np.all(result.mask[image.valid & (image.depth < 420.0)] == 255)
    assert len(np.unique(result.depth[beyond])) > 100, "the far plane holds noise"
    np.testing.assert_array_equal(apply_recipe(recipe, image).depth, result.depth)
    with pytest.raises(NoDepthError):
        apply_recipe(recipe, depth_image(np.full((4, 4), np.inf, np.float32)))


def test_a_recipe_on_the_real_file(shared_exr_dir):
    image = read_depth(shared_exr_dir / "synthetic_daz_Y_f32_zip_1200.exr")
    data = document(cutoffs__depth_cutoff=290.0, cutoffs__near_cutoff=165.0, bands__0__end=220.0, options__bits=8)
    result = apply_recipe(recipe_from_dict(data), image)
    assert result.depth.shape == (image.height, image.width)
    figure = image.valid & (image.depth < 220.0)
    assert result.depth[figure].min() >= 106, "the near band holds the top 150 levels"
    assert np.all(result.depth[image.valid & (image.depth >= 290.0)] == 0)


@pytest.mark.parametrize(
    ("changes", "place"),
    [
        ({"cutoffs__depth_cutoff": 1e308, "cutoffs__near_cutoff": -1e308}, "cutoffs.depth_cutoff"),
        ({"cutoffs__near_cutoff": -1e308}, "cutoffs.near_cutoff"),
        (
            {"cutoffs__depth_cutoff": -1e308, "cutoffs__near_cutoff": None, "options__invert": True},
            "cutoffs.depth_cutoff",
        ),
        ({"bands__0__end": 1e300}, "bands[0].end"),
    ],
)
def test_cutoffs_no_exr_depth_reaches_are_refused_not_mapped_black(changes, place):
    """Issue 16: cutoffs of ±1e308 made the window's width overflow: a silently all-black map."""
    with pytest.raises(RecipeError) as error:
        recipe_from_dict(document(**changes))
    assert str(error.value).startswith(f"{place}: expected a depth an EXR can hold (at most 3.4e+38 either side of 0)")


def test_the_widest_window_allowed_maps_without_overflow():
    limit = MAX_CUTOFF
    widest = (
        DepthParams(depth_cutoff=limit, near_cutoff=-limit),
        DepthParams(depth_cutoff=-limit, near_cutoff=limit, invert=True),
    )
    for params in widest:
        depth = np.array([[100.0, 200.0]], np.float32)
        made = render(depth_image(depth), params)
        assert made.depth.tolist() == [[128, 128]], params  # the middle of a window from -limit to +limit
    for bad in ({"depth_cutoff": 1e308}, {"near_cutoff": -1e308}, {"depth_cutoff": "-1e308"}, {"near_cutoff": 10**400}):
        with pytest.raises(ValueError, match="expected a depth an EXR can hold"):
            params_from_mapping(bad)
    with pytest.raises(ValueError, match="near_cutoff: expected a depth an EXR can hold"):
        DepthParams(near_cutoff=-1e308)


def test_a_whole_number_beyond_any_float_is_refused_in_words():
    text = '{"format": "daz-depthmap-recipe", "version": 1, "cutoffs": {"depth_cutoff": 1' + "0" * 400 + "}}"
    with pytest.raises(RecipeError, match=r"cutoffs.depth_cutoff: expected a depth .* got a whole number of about 401"):
        recipe_from_json(text)
