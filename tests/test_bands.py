"""Band plans: mapping (order, exact rounding, 16-bit levels, compress_map), allocation, band index, mask, test
colours, split suggestions, plan editing and the --bands text form."""

from __future__ import annotations

import math
from unittest import mock

import numpy as np
import pytest
from hypothesis import assume, given, reject, settings
from hypothesis import strategies as st

from daz_depthmap.bands import levels as band_map
from daz_depthmap.bands.colours import CSS_COLOURS, DEFAULT_PALETTE, parse_colour
from daz_depthmap.bands.levels import band_level_of, band_levels, map_bands
from daz_depthmap.bands.plan import (
    FAR_COLOUR,
    Allocation,
    Band,
    BandPlan,
    allocate,
    apportion,
    band_colours,
    band_counts,
    band_index,
    check_levels,
    paint_bands,
    split_plan,
    suggested_plan,
)
from daz_depthmap.bands.spec import BandSpecError, format_band_spec, parse_band_spec
from daz_depthmap.depth.histogram import suggest_cutoff, suggest_splits
from daz_depthmap.depth.mapping import DepthWindow, depth_stats, depth_window, rank_depths, rank_index, subject_mask
from daz_depthmap.exr import depth_image, read_depth
from tests.synthetic import daz_like_depth, two_subject_depth

SETTINGS = settings(max_examples=80, deadline=None)
REAL_FILE = "synthetic_daz_Y_f32_zip_1200.exr"
#: The original tool's example: person, desk, mirror frame, reflection, background.
EXAMPLE_SPEC = "132:90,153.8:4,170:60,210:90,*:12"


def linear_reference(depth, valid, window, bits):
    """Today's linear map under the float64 rule: floor((far - d) / (far - near) * L + 0.5), background 0."""
    top = (1 << bits) - 1
    x = np.asarray(depth, np.float64)
    with np.errstate(all="ignore"):
        t = np.clip((window.far - x) / (window.far - window.near), 0.0, 1.0)
        level = np.floor(t * top + 0.5)
    return np.where(valid, level, 0).astype(np.int64)


def nearness_order(depth, invert):
    return np.argsort(-depth if invert else depth, kind="stable")


def assert_nearer_never_darker(depth, mapped, invert):
    order = nearness_order(depth, invert)
    steps = np.diff(mapped[order].astype(np.int64))
    assert np.all(steps <= 0), f"a nearer pixel is darker: {depth[order][np.argmax(steps > 0) :][:2]}"


def plan_of(levels, splits, **band):
    return BandPlan(tuple(splits), tuple(Band(n, **band) for n in levels))


# ----------------------------------------------------------------------------------------------------------------
# Random scenes for the properties: a window, a plan with every band at least one level, and depths


@st.composite
def scenes(draw, zero_levels=False):
    near = draw(st.floats(0.5, 2000.0, width=32))
    span = draw(st.floats(0.05, 3000.0))
    invert = draw(st.booleans())
    far = float(np.float32(near + span))
    assume(far > near)
    count = draw(st.integers(1, 6))
    cuts = draw(st.lists(st.floats(0.001, 0.999), min_size=count - 1, max_size=count - 1, unique=True))
    splits = sorted({float(np.float32(near + c * (far - near))) for c in cuts} - {near, far})
    weights = draw(
        st.lists(st.integers(0 if zero_levels else 1, 60), min_size=len(splits) + 1, max_size=len(splits) + 1)
    )
    levels = apportion(np.array(weights, float) + 1e-9, 256, np.ones(len(weights), int) * (0 if zero_levels else 1))
    # depths all over the window and beyond, plus every edge exactly and its float32 neighbours
    edges = np.array([near, *splits, far], np.float32)
    neighbours = np.concatenate([edges, np.nextafter(edges, np.float32(0)), np.nextafter(edges, np.float32(np.inf))])
    spread = draw(st.lists(st.floats(-0.3, 1.3), min_size=1, max_size=60))
    depth = np.concatenate([neighbours, (near + np.array(spread) * (far - near)).astype(np.float32)])
    depth = depth[depth > 0].astype(np.float32)
    if invert:  # the same scene as disparity-like input: larger is nearer
        depth, near, far = (1e4 / depth).astype(np.float32), 1e4 / near, 1e4 / far
        splits = [1e4 / s for s in splits]
    plan = BandPlan(tuple(splits), tuple(Band(int(n)) for n in levels))
    return depth.reshape(1, -1), plan, DepthWindow(near, far, invert, cutoff=True)


# ----------------------------------------------------------------------------------------------------------------
# Mapping


@pytest.mark.parametrize("bits", [8, 16])
@pytest.mark.parametrize("invert", [False, True])
@pytest.mark.parametrize("cutoff", [None, 290.0])
def test_one_band_of_256_levels_is_exactly_the_linear_map(bits, invert, cutoff):
    depth = daz_like_depth(300, 240, seed=4)
    if invert:
        depth = np.where(np.isfinite(depth), 1000.0 / depth, np.inf).astype(np.float32)
        cutoff = None if cutoff is None else 1000.0 / cutoff
    image = depth_image(depth)
    window = depth_window(depth_stats(image.depth, image.valid), cutoff, None, invert)
    mapped = map_bands(image.depth, image.valid, BandPlan(), window, bits)
    assert mapped.dtype == (np.uint8 if bits == 8 else np.uint16)
    np.testing.assert_array_equal(mapped, linear_reference(image.depth, image.valid, window, bits))
    assert mapped.max() == (1 << bits) - 1 and np.all(mapped[~image.valid] == 0)


def test_exact_halves_round_up():
    image = depth_image(np.array([[1.0, 2.0, 3.0, 1.5, 2.5]], np.float32))
    window = depth_window(depth_stats(image.depth, image.valid))
    assert map_bands(image.depth, image.valid, BandPlan(), window)[0].tolist() == [255, 128, 0, 191, 64]
    assert map_bands(image.depth, image.valid, BandPlan(), window, 16)[0].tolist() == [65535, 32768, 0, 49151, 16384]


@pytest.mark.parametrize("bits", [8, 16])
def test_one_band_on_the_real_file_is_the_linear_map(shared_exr_dir, bits):
    image = read_depth(shared_exr_dir / REAL_FILE)
    stats = depth_stats(image.depth, image.valid)
    window = depth_window(stats, suggest_cutoff(image.depth, stats).cutoff)
    mapped = map_bands(image.depth, image.valid, BandPlan(), window, bits)
    np.testing.assert_array_equal(mapped, linear_reference(image.depth, image.valid, window, bits))


@SETTINGS
@given(scenes(), st.sampled_from([8, 16]), st.booleans())
def test_nearer_is_never_darker_across_band_edges(scene, bits, compress):
    depth, plan, window = scene
    valid = np.ones(depth.shape, bool)
    ranks = rank_depths(depth, valid) if compress else None
    mapped = map_bands(depth, valid, plan, window, bits, ranks)[0]
    assert_nearer_never_darker(depth[0], mapped, window.invert)
    top = (1 << bits) - 1
    nearest = depth[0].max() if window.invert else depth[0].min()
    assert mapped[depth[0] == nearest].min() == top, "the nearest pixel is white"
    exact = depth[0].astype(np.float64)  # a float32 comparison would round the cutoff
    beyond = exact <= window.far if window.invert else exact >= window.far
    assert np.all(mapped[beyond] == 0), "the far cutoff and beyond are black"


@SETTINGS
@given(scenes(), st.sampled_from([8, 16]))
def test_every_band_keeps_to_its_own_levels(scene, bits):
    depth, plan, window = scene
    valid = np.ones(depth.shape, bool)
    mapped = map_bands(depth, valid, plan, window, bits)[0].astype(np.int64)
    index = band_index(depth, valid, plan, window)[0]
    levels = band_levels(plan, bits)
    inside = index >= 0
    assert np.all(mapped[inside] >= levels.low[index[inside]])
    assert np.all(mapped[inside] <= levels.high[index[inside]])
    assert np.all(mapped[~inside] == 0), "the far plane is black"
    if bits == 16:
        eight = band_levels(plan, 8)
        top8 = mapped[inside] >> 8
        assert np.all((top8 >= eight.low[index[inside]]) & (top8 <= eight.high[index[inside]])), ">> 8 stays in band"


@SETTINGS
@given(scenes(zero_levels=True), st.sampled_from([8, 16]))
def test_the_table_lookup_is_the_formula_exactly(scene, bits):
    """map_bands looks levels up by float32 bit pattern; band_level_of evaluates the float64 formula."""
    depth, plan, window = scene
    valid = np.ones(depth.shape, bool)
    counts = band_counts(band_index(depth, valid, plan, window), len(plan.bands))
    assume(all(band.levels or not count for band, count in zip(plan.bands, counts, strict=True)))
    expected = band_level_of(depth, plan, window, bits)
    with mock.patch.object(band_map, "_MIN_TABLE_CELLS", 1 << 26):  # a table even for these few pixels
        np.testing.assert_array_equal(map_bands(depth, valid, plan, window, bits), expected)
    np.testing.assert_array_equal(map_bands(depth, valid, plan, window, bits), expected)
    np.testing.assert_array_equal(map_bands(depth.astype(np.float64), valid, plan, window, bits), expected)


def test_the_table_is_used_and_levels_packed_tighter_than_float32_use_the_formula():
    depth = np.linspace(150.0, 420.0, 600_000, dtype=np.float32).reshape(600, 1000)
    window = DepthWindow(150.0, 420.0, cutoff=True)
    plan = plan_of([90, 4, 60, 90, 12], [180.0, 200.0, 265.0, 400.0])
    for bits in (8, 16):
        assert band_map._pattern_table(band_map._layout(plan, window, bits), window, depth.size) is not None
    dense = plan_of([250, 6], [150.0001])  # 250 levels over 0.0001 cm: float32 steps there skip 16-bit levels
    assert band_map._pattern_table(band_map._layout(dense, window, 16), window, depth.size) is None
    depth.flat[:4] = [150.0, 150.00002, 150.00005, 150.00008]
    np.testing.assert_array_equal(
        map_bands(depth, np.ones(depth.shape, bool), dense, window, 16), band_level_of(depth, dense, window, 16)
    )


def test_the_table_and_the_formula_agree_on_the_real_file(shared_exr_dir):
    image = read_depth(shared_exr_dir / REAL_FILE)
    window = depth_window(depth_stats(image.depth, image.valid), 300.0)
    plan = plan_of([100, 30, 126], [190.0, 230.0])
    for bits in (8, 16):
        mapped = map_bands(image.depth, image.valid, plan, window, bits)
        expected = np.where(image.valid, band_level_of(image.depth, plan, window, bits), 0)
        np.testing.assert_array_equal(mapped, expected)
        assert_nearer_never_darker(image.depth[image.valid], mapped[image.valid], False)


def test_band_levels_near_to_far_and_in_16_bit():
    levels8, levels16 = (
        band_levels(plan_of([90, 4, 60, 90, 12], [1, 2, 3, 4]), 8),
        band_levels(plan_of([90, 4, 60, 90, 12], [1, 2, 3, 4]), 16),
    )
    assert levels8.high.tolist() == [255, 165, 161, 101, 11]
    assert levels8.low.tolist() == [166, 162, 102, 12, 0]
    assert levels16.high.tolist() == [65535, 165 * 256 + 255, 161 * 256 + 255, 101 * 256 + 255, 11 * 256 + 255]
    assert levels16.low.tolist() == [166 * 256, 162 * 256, 102 * 256, 12 * 256, 0]
    assert (levels16.high - levels16.low + 1).tolist() == [90 * 256, 4 * 256, 60 * 256, 90 * 256, 12 * 256]


def test_a_split_depth_belongs_to_the_farther_band_at_its_brightest():
    window = DepthWindow(100.0, 356.0, cutoff=True)
    plan = plan_of([128, 128], [228.0])
    depth = np.array([[100.0, 227.99998, 228.0, 356.0, 400.0]], np.float32)
    valid = np.ones(depth.shape, bool)
    assert map_bands(depth, valid, plan, window)[0].tolist() == [255, 128, 127, 0, 0]
    assert band_index(depth, valid, plan, window)[0].tolist() == [0, 0, 1, 1, -1]


def test_a_band_spreads_its_depths_over_all_its_levels():
    window = DepthWindow(0.0 + 1.0, 101.0, cutoff=True)
    plan = plan_of([200, 56], [51.0])
    depth = np.linspace(1.0, 101.0, 20001, dtype=np.float32).reshape(1, -1)
    mapped = map_bands(depth, np.ones(depth.shape, bool), plan, window)[0]
    near, far = mapped[depth[0] < 51.0], mapped[depth[0] >= 51.0]
    assert sorted(set(near.tolist())) == list(range(56, 256)), "the near half gets 200 levels"
    assert sorted(set(far.tolist())) == list(range(0, 56)), "the far half gets 56"


def test_background_and_beyond_everything_are_black():
    depth = np.array([[np.inf, np.nan, 1e10, 0.0, -3.0, 150.0, 250.0]], np.float32)
    image = depth_image(depth)
    plan = plan_of([128, 128], [200.0])
    window = DepthWindow(120.0, 300.0, cutoff=True)
    mapped = map_bands(image.depth, image.valid, plan, window)
    assert mapped[0, :5].tolist() == [0] * 5 and mapped[0, 5] > 128 > mapped[0, 6] > 0
    assert map_bands(image.depth, image.valid, plan, DepthWindow(120.0, 100.0, cutoff=True)).max() == 0
    flat = depth_image(np.full((2, 2), 5.0, np.float32))
    assert map_bands(flat.depth, flat.valid, BandPlan(), DepthWindow(5.0, 5.0)).tolist() == [[255, 255]] * 2


def test_levels_must_add_up_and_empty_bands_must_hold_no_pixel():
    depth = np.array([[150.0, 250.0, 350.0]], np.float32)
    valid = np.ones(depth.shape, bool)
    window = DepthWindow(100.0, 400.0, cutoff=True)
    with pytest.raises(ValueError, match="levels add up to 244 of 256: 12 left to give"):
        map_bands(depth, valid, plan_of([122, 122], [200.0]), window)
    with pytest.raises(ValueError, match="levels add up to 266 of 256: 10 too many"):
        map_bands(depth, valid, plan_of([133, 133], [200.0]), window)
    desk = BandPlan((200.0, 300.0), (Band(128), Band(0, label="desk"), Band(128)))
    with pytest.raises(ValueError, match=r"band 2 \(desk\) holds 1 pixel but has 0 levels"):
        map_bands(depth, valid, desk, window)
    with pytest.raises(ValueError, match=r"band 2 \(desk\) holds 1 distinct depth but has 0 levels"):
        map_bands(depth, valid, desk, window, ranks=rank_depths(depth, valid))
    empty = BandPlan((200.0, 240.0), (Band(128), Band(0), Band(128)))  # nothing between 200 and 240
    assert map_bands(depth, valid, empty, window)[0].tolist() == [191, 120, 40]


def test_splits_must_fit_the_window():
    depth = np.array([[150.0, 250.0]], np.float32)
    valid = np.ones(depth.shape, bool)
    with pytest.raises(
        ValueError, match="split 2 at 500 lies outside the window from the near end 100 to the far cutoff 400"
    ):
        map_bands(depth, valid, plan_of([100, 100, 56], [200.0, 500.0]), DepthWindow(100.0, 400.0, cutoff=True))
    with pytest.raises(ValueError, match=r"split 2 at 300 must be farther \(smaller, since inverted\) than 200"):
        band_index(depth, valid, plan_of([100, 100, 56], [200.0, 300.0]), DepthWindow(400.0, 100.0, invert=True))
    with pytest.raises(ValueError, match="turning back"):
        BandPlan((200.0, 150.0, 300.0), (Band(64),) * 4)


# ----------------------------------------------------------------------------------------------------------------
# compress_map


def ranked_reference(depth, valid, window, top):
    """map_ranked's spreading under the float64 rule, for one band."""
    values = np.unique(depth[valid])
    first = int(np.searchsorted(values, window.near, "right"))
    last = min(int(np.searchsorted(values, window.far, "left")), len(values) - 1)
    start = max(first - 1, 0)
    position = np.clip(np.searchsorted(values, depth), start, last)
    t = (last - position) / (last - start)
    return np.where(valid, np.floor(t * top + 0.5), 0).astype(np.int64)


@pytest.mark.parametrize("bits", [8, 16])
def test_one_ranked_band_is_map_ranked(bits):
    image = depth_image(daz_like_depth(120, 96, seed=2))
    window = depth_window(depth_stats(image.depth, image.valid), 285.0, 175.0)
    ranks = rank_depths(image.depth, image.valid)
    mapped = map_bands(image.depth, image.valid, BandPlan(), window, bits, ranks)
    expected = ranked_reference(image.depth, image.valid, window, (1 << bits) - 1)
    np.testing.assert_array_equal(mapped, expected)


def test_ranked_bands_spread_their_distinct_depths_over_their_own_levels():
    depth = np.array([[10.0, 11.0, 12.0, 20.0, 21.0, 22.0, 23.0, 24.0, 30.0]], np.float32)
    valid = np.ones(depth.shape, bool)
    plan = plan_of([6, 250], [20.0])
    window = DepthWindow(10.0, 30.0, cutoff=True)
    mapped = map_bands(depth, valid, plan, window, ranks=rank_depths(depth, valid))[0]
    # band 1: levels 250..255 for 10, 11, 12; band 2: 0..249 for 20..24 and the far cutoff 30
    assert mapped.tolist() == [255, 253, 250, 249, 199, 149, 100, 50, 0]
    inverted = map_bands(-depth + 100, valid, BandPlan((80.0,), plan.bands), DepthWindow(90.0, 70.0, True, True),
                         ranks=rank_depths(-depth + 100, valid))[0]  # fmt: skip
    assert inverted.tolist() == mapped.tolist()


def test_ranked_preview_uses_the_full_images_ranks():
    image = depth_image(two_subject_depth(160, 128, seed=1))
    window = depth_window(depth_stats(image.depth, image.valid), 420.0)
    plan = plan_of([128, 128], [265.0])
    ranks = rank_depths(image.depth, image.valid)
    full = map_bands(image.depth, image.valid, plan, window, 8, ranks)
    part = (slice(10, 150, 3), slice(5, 120, 2))
    preview_ranks = rank_index(ranks, image.depth[part])
    with mock.patch.object(band_map, "_MIN_TABLE_CELLS", 0):  # more distinct depths than preview pixels
        preview = map_bands(image.depth[part], image.valid[part], plan, window, 8, preview_ranks)
    np.testing.assert_array_equal(preview, full[part])


@SETTINGS
@given(scenes(zero_levels=True), st.sampled_from([8, 16]))
def test_the_ranked_table_is_the_ranked_formula_exactly(scene, bits):
    """compress_map looks levels up in a table built from where the level steps; the formula gives each one."""
    depth, plan, window = scene
    valid = np.ones(depth.shape, bool)
    ranks = rank_depths(depth, valid)
    try:
        layout = band_map._rank_layout(ranks.values, plan, window, band_levels(plan, bits))
    except ValueError:
        reject()  # a band of 0 levels holds depths: refused (tested above)
    position = np.arange(len(ranks.values))
    formula = band_map._ranked_levels(position if not window.invert else position[::-1], layout)
    np.testing.assert_array_equal(band_map._rank_table(layout, np.uint16), formula)


# ----------------------------------------------------------------------------------------------------------------
# Allocation


def test_depth_span_allocation_is_the_linear_map_where_splits_sit_on_level_boundaries():
    window = DepthWindow(100.0, 355.0, cutoff=True)  # one level per unit: level = floor(355 - d + 0.5)
    plan = allocate(split_plan([130.5, 200.5, 300.5]), Allocation.DEPTH, window)
    assert [b.levels for b in plan.bands] == [31, 70, 100, 55]
    depth = np.random.default_rng(0).uniform(90, 365, 200_000).astype(np.float32).reshape(400, 500)
    valid = np.ones(depth.shape, bool)
    mapped = map_bands(depth, valid, plan, window).astype(np.int64)
    linear = linear_reference(depth, valid, window, 8)
    tie = np.abs((355.0 - depth.astype(np.float64)) % 1.0 - 0.5) < 1e-9  # exactly half a level: either way
    np.testing.assert_array_equal(mapped[~tie], linear[~tie])
    assert np.abs(mapped - linear).max() <= 1
    at_split = np.array([[130.5, 200.5, 300.5]], np.float32)
    assert (
        linear_reference(at_split, np.ones((1, 3), bool), window, 8)
        - map_bands(at_split, np.ones((1, 3), bool), plan, window)
    ).tolist() == [[1, 1, 1]]


@SETTINGS
@given(scenes(), st.sampled_from([8, 16]))
def test_depth_span_allocation_follows_the_linear_map(scene, bits):
    depth, plan, window = scene
    valid = np.ones(depth.shape, bool)
    counts = band_counts(band_index(depth, valid, plan, window), len(plan.bands))
    plan = allocate(split_plan(plan.splits), "depth", window, counts)
    mapped = map_bands(depth, valid, plan, window, bits).astype(np.int64)
    linear = linear_reference(depth, valid, window, bits)
    # at each split the band map is half a level below the nearer band's lowest level; the linear map is where
    # the split's depth falls: both are linear in between, so they differ by at most the largest drift, rounded
    top = (1 << bits) - 1
    splits = np.array(plan.splits, np.float64)
    linear_at_splits = top * (window.far - splits) / (window.far - window.near)
    bands_at_splits = band_levels(plan, bits).low[:-1] - 0.5
    drift = np.abs(linear_at_splits - bands_at_splits).max(initial=0.0)
    assert np.abs(mapped - linear).max() <= math.floor(drift) + 1


def test_allocation_by_pixels_equal_and_with_locks():
    window = DepthWindow(0.0, 400.0, cutoff=True)
    plan = split_plan([100.0, 200.0, 300.0])
    counts = np.array([6000, 0, 3000, 1000])
    by_pixels = allocate(plan, Allocation.PIXELS, window, counts)
    assert [b.levels for b in by_pixels.bands] == [154, 0, 77, 25]
    assert [b.levels for b in allocate(plan, "equal", window).bands] == [64, 64, 64, 64]
    assert [b.levels for b in allocate(split_plan([100.0, 200.0, 300.0, 350.0]), "equal", window).bands] == [
        52,
        51,
        51,
        51,
        51,
    ]
    assert [b.levels for b in allocate(plan, "depth", window).bands] == [64, 64, 64, 64]
    locked = plan.with_band(0, levels=200, locked=True)
    shared = allocate(locked, "pixels", window, counts)
    assert [b.levels for b in shared.bands] == [200, 0, 42, 14], "the rest shared 3:1 by pixels"
    assert shared.bands[0].locked and not shared.bands[2].locked
    assert [b.levels for b in allocate(locked, "depth", window).bands] == [200, 19, 18, 19]
    tiny = np.array([6000, 2, 3000, 1000])
    assert [b.levels for b in allocate(plan, "pixels", window, tiny).bands] == [153, 1, 77, 25], "no pixel left out"


def test_allocation_errors_say_what_is_wrong():
    window = DepthWindow(0.0, 400.0, cutoff=True)
    plan = split_plan([100.0, 200.0])
    with pytest.raises(ValueError, match="the locked bands take 300 of 256 levels: 44 too many"):
        allocate(plan.with_band(0, levels=150, locked=True).with_band(1, levels=150, locked=True), "depth", window)
    with pytest.raises(ValueError, match="needs the pixel count"):
        allocate(plan, "pixels", window)
    all_locked = BandPlan(plan.splits, tuple(Band(80, locked=True) for _ in range(3)))
    with pytest.raises(ValueError, match="levels add up to 240 of 256: 16 left to give"):
        allocate(all_locked, "equal", window)
    with pytest.raises(ValueError, match=r"band 1 \(face\) is locked at 0 levels but holds 10 pixels"):
        allocate(plan.with_band(0, label="face", locked=True), "equal", window, [10, 0, 5])
    with pytest.raises(ValueError):
        allocate(plan, "by magic", window)
    with pytest.raises(ValueError, match=r"band 3 holds 5 pixels but has 0 levels"):
        check_levels(plan_of([128, 128, 0], [100.0, 200.0]), [1, 1, 5])


@SETTINGS
@given(
    st.lists(st.floats(0.0, 1e6), min_size=1, max_size=12),
    st.integers(0, 300),
    st.data(),
)
def test_largest_remainder_adds_up_exactly(weights, total, data):
    minimum = data.draw(st.lists(st.integers(0, 1), min_size=len(weights), max_size=len(weights)))
    assume(sum(minimum) <= total)
    shares = apportion(weights, total, minimum)
    assert shares.sum() == total and np.all(shares >= minimum)
    if not any(minimum) and sum(weights) > 0:
        quota = np.array(weights) * total / sum(weights)
        assert np.all(shares >= np.floor(quota) - 1e-9) and np.all(shares <= np.ceil(quota) + 1e-9)


# ----------------------------------------------------------------------------------------------------------------
# Band index, mask, test colours


def test_band_index_counts_and_mask():
    depth = np.array([[90.0, 100.0, 150.0, 199.9, 200.0, 300.0, 399.0, 400.0, 401.0, np.inf, -1.0]], np.float32)
    image = depth_image(depth)
    plan = plan_of([128, 128], [200.0])
    window = DepthWindow(100.0, 400.0, cutoff=True)
    index = band_index(image.depth, image.valid, plan, window)
    assert index.dtype == np.int16
    assert index[0].tolist() == [0, 0, 0, 0, 1, 1, 1, 1, -1, -1, -1]
    assert band_counts(index, 2).tolist() == [4, 4]
    mask = subject_mask(image.depth, image.valid, window)
    assert mask[0].tolist() == [255] * 7 + [0] * 4
    inverted = depth_image(1e4 / depth)
    iw = DepthWindow(1e4 / 100.0, 1e4 / 400.0, invert=True, cutoff=True)
    iplan = plan_of([128, 128], [1e4 / 200.0])
    assert band_index(inverted.depth, inverted.valid, iplan, iw)[0].tolist() == index[0].tolist()
    assert subject_mask(inverted.depth, inverted.valid, iw)[0].tolist() == mask[0].tolist()


def test_test_colours_paint_each_band_shaded_by_level():
    depth = np.array([[100.0, 199.0, 200.0, 400.0, 500.0, np.inf]], np.float32)
    image = depth_image(depth)
    plan = BandPlan((200.0,), (Band(128, colour="orange"), Band(128, colour="#0000ff")))
    window = DepthWindow(100.0, 400.0, cutoff=True)
    mapped = map_bands(image.depth, image.valid, plan, window)
    painted = paint_bands(mapped, band_index(image.depth, image.valid, plan, window), plan)
    assert painted.shape == (1, 6, 3) and painted.dtype == np.uint8
    assert painted[0, 0].tolist() == [255, 165, 0], "orange at full brightness where white"
    assert painted[0, 2].tolist() == [0, 0, round(255 * (0.35 + 0.65 * 127 / 255))]
    assert painted[0, 3].tolist() == [0, 0, round(255 * 0.35)], "the far cutoff is the band's darkest shade"
    assert painted[0, 4].tolist() == list(FAR_COLOUR) == painted[0, 5].tolist(), "far plane and background"
    sixteen = map_bands(image.depth, image.valid, plan, window, 16)
    np.testing.assert_array_equal(
        paint_bands(sixteen, band_index(image.depth, image.valid, plan, window), plan)[0, :2], painted[0, :2]
    )


def test_colours_by_css_name_hex_and_default_palette():
    assert parse_colour("Orange") == (255, 165, 0) and parse_colour("rebeccapurple") == (102, 51, 153)
    assert parse_colour("#FF8000") == (255, 128, 0) and parse_colour("#f80") == (255, 136, 0)
    assert parse_colour("light grey") == parse_colour("lightgray") == (211, 211, 211)
    with pytest.raises(ValueError, match="unknown colour 'blurple'"):
        parse_colour("blurple")
    assert len(CSS_COLOURS) == 148
    colours = band_colours(split_plan([1.0, 2.0, 3.0]))
    assert colours.tolist() == [list(parse_colour(c)) for c in DEFAULT_PALETTE[:4]]
    assert len({tuple(c) for c in colours}) == 4


def test_css_table_matches_pillows():
    image_colour = pytest.importorskip("PIL.ImageColor")
    assert dict(CSS_COLOURS) == image_colour.colormap


# ----------------------------------------------------------------------------------------------------------------
# Split suggestions and the two-subject scene


def test_two_subject_scene_has_two_figures_and_a_backdrop():
    depth = two_subject_depth(400, 320, seed=0)
    np.testing.assert_array_equal(depth, two_subject_depth(400, 320, seed=0))
    assert np.count_nonzero(np.isinf(depth)) == 24
    finite = depth[np.isfinite(depth)]
    near, far, backdrop = (
        np.count_nonzero((finite >= a) & (finite < b)) for a, b in ((145, 212), (328, 402), (790, 810))
    )
    assert near > 0.08 * finite.size and far > 0.04 * finite.size and backdrop > 0.5 * finite.size
    between = np.count_nonzero((finite >= 212) & (finite < 328))
    assert between < 0.01 * finite.size, "the gap between the figures is near-empty"


@pytest.mark.parametrize("invert", [False, True])
def test_splits_are_suggested_in_the_gaps(invert):
    depth = two_subject_depth(400, 320, seed=1)
    if invert:
        depth = np.where(np.isfinite(depth), 1e4 / depth, np.inf).astype(np.float32)
    image = depth_image(depth)
    stats = depth_stats(image.depth, image.valid)
    splits = suggest_splits(image.depth, stats, depth_window(stats, None, None, invert))
    if invert:
        splits = tuple(1e4 / s for s in splits)
    assert len(splits) == 2, splits
    assert 215 < splits[0] < 325, "between the figures"
    assert 405 < splits[1] < 790, "between the far figure and the backdrop"
    cut = 1e4 / 420.0 if invert else 420.0
    inside = suggest_splits(image.depth, stats, depth_window(stats, cut, None, invert))
    assert len(inside) == 1 and 215 < (1e4 / inside[0] if invert else inside[0]) < 325


def test_a_two_subject_scene_gets_its_bands_in_one_click():
    image = depth_image(two_subject_depth(400, 320, seed=2))
    stats = depth_stats(image.depth, image.valid)
    window = depth_window(stats, 420.0)
    plan = suggested_plan(image.depth, image.valid, stats, window)
    assert len(plan.bands) == 2 and sum(b.levels for b in plan.bands) == 256
    assert [b.region for b in plan.bands] == [0, 1]
    index = band_index(image.depth, image.valid, plan, window)
    near_figure = (image.depth > 145) & (image.depth < 212)
    far_figure = (image.depth > 328) & (image.depth < 402)
    assert np.all(index[near_figure] == 0) and np.all(index[far_figure] == 1)
    counts = band_counts(index, 2)
    assert plan.bands[0].levels / 256 == pytest.approx(counts[0] / counts.sum(), abs=0.01), "levels by pixel share"


def test_suggested_splits_on_the_real_file(shared_exr_dir):
    image = read_depth(shared_exr_dir / REAL_FILE)
    stats = depth_stats(image.depth, image.valid)
    splits = suggest_splits(image.depth, stats, depth_window(stats))
    assert len(splits) == 1 and 300 < splits[0] < 598, "one gap: between the figure and the backdrop"
    assert suggest_splits(image.depth, stats, depth_window(stats, 290.0)) == ()


# ----------------------------------------------------------------------------------------------------------------
# Editing a plan


def test_adding_moving_and_removing_splits():
    window = DepthWindow(100.0, 400.0, cutoff=True)
    plan = BandPlan((), (Band(256, label="all"),)).with_split(200.0, window)
    assert plan.splits == (200.0,) and [b.levels for b in plan.bands] == [256, 0]
    plan = plan.with_split(150.0, window).with_band(0, levels=250).with_band(1, levels=6, label="desk")
    assert plan.splits == (150.0, 200.0) and plan.bands[1].label == "desk"
    assert plan.ranges(window) == ((100.0, 150.0), (150.0, 200.0), (200.0, 400.0))
    assert plan.with_split_moved(1, 250.0, window).splits == (150.0, 250.0)
    with pytest.raises(ValueError, match="split 2 can move between 150 and 400 .* are you trying to remove a band"):
        plan.with_split_moved(1, 120.0, window)
    merged = plan.without_split(0)
    assert merged.splits == (200.0,) and merged.bands[0].levels == 256 and merged.bands[0].label == "all"
    with pytest.raises(ValueError, match="must lie between the near end 100 and the far cutoff 400"):
        plan.with_split(450.0, window)


def test_band_fields_are_checked():
    with pytest.raises(ValueError, match="levels must be a whole number 0..256"):
        Band(257)
    with pytest.raises(ValueError, match="unknown colour"):
        Band(1, colour="blurple")
    with pytest.raises(ValueError, match="region number must be a whole number 0..359"):
        Band(1, region=360)
    with pytest.raises(ValueError, match="one line"):
        Band(1, label="face\nhands")
    with pytest.raises(ValueError, match="needs 3 bands, not 2"):
        BandPlan((1.0, 2.0), (Band(128), Band(128)))


# ----------------------------------------------------------------------------------------------------------------
# The --bands text form


def test_the_original_tools_five_splits():
    plan = parse_band_spec(EXAMPLE_SPEC)
    assert plan.splits == (132.0, 153.8, 170.0, 210.0)
    assert [b.levels for b in plan.bands] == [90, 4, 60, 90, 12]
    assert all(b.locked for b in plan.bands)
    assert format_band_spec(plan) == EXAMPLE_SPEC


def test_labels_colours_and_regions():
    plan = parse_band_spec(
        " 132:90:face:orange@0, 153.8:4:desk ,170:60:mirror frame@1,210:90:reflection@2,*:12:background"
    )
    assert [b.label for b in plan.bands] == ["face", "desk", "mirror frame", "reflection", "background"]
    assert [b.region for b in plan.bands] == [0, None, 1, 2, None]
    assert plan.bands[0].colour == "orange"
    assert parse_band_spec(format_band_spec(plan)) == plan


def test_levels_left_out_are_allocated():
    plan = parse_band_spec("265::near@0,*:100:far@1")
    assert [(b.levels, b.locked) for b in plan.bands] == [(0, False), (100, True)]
    filled = allocate(plan, "equal", DepthWindow(150.0, 420.0, cutoff=True))
    assert [b.levels for b in filled.bands] == [156, 100]
    assert parse_band_spec("265,*").bands == (Band(), Band())
    assert parse_band_spec("*:256") == BandPlan((), (Band(256, locked=True),))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("132:90,153.8:4,170:sixty,210:90,*:12", "--bands item 3 '170:sixty': levels must be a whole number 0..256"),
        ("132:90,153.8:4,170:60,210:90,*:2", "--bands: levels add up to 246 of 256: 10 left to give"),
        ("132:200,*:100", "--bands: levels add up to 300 of 256: 44 too many"),
        ("132:200,150,*:100", "--bands: the levels given add up to 300, more than the 256 there are"),
        ("132:90,120:100,*:66", "--bands item 2 '120:100': the split 120 must be farther than the one before it, 132"),
        ("abc:90,*:166", "--bands item 1 'abc:90': the split depth must be a number (or '*' for the last band)"),
        ("inf:90,*:166", "--bands item 1 'inf:90': the split depth must be a finite number"),
        ("*:90,200:166", "--bands item 1 '*:90': only the last item can be '*'"),
        ("132:90,210:166", "--bands item 2 '210:166': the last item must start with '*'"),
        ("132:300,*", "--bands item 1 '132:300': levels must be at most 256, not 300"),
        ("132:-3,*", "--bands item 1 '132:-3': levels must be a whole number 0..256"),
        ("132:90:face@x,*", "--bands item 1 '132:90:face@x': the region after '@' must be a whole number 0..359"),
        ("132:90:face@400,*", "the region after '@' must be a whole number 0..359"),
        ("132:90:face@1@2,*", "only one '@REGION' per item"),
        ("132:90:face:red:big,*", "too many ':' parts"),
        ("132:90:face:blurple,*:166", "--bands item 1 '132:90:face:blurple': unknown colour 'blurple'"),
        ("132:90,,*:166", "--bands item 2 is empty"),
        ("", "--bands item 1 is empty"),
    ],
)
def test_bad_specs_say_what_is_wrong_and_where(spec, message):
    with pytest.raises(BandSpecError) as error:
        parse_band_spec(spec)
    assert message in str(error.value)


def test_inverted_specs_run_from_large_to_small():
    plan = parse_band_spec("0.5:128,*:128", invert=True)
    assert plan.splits == (0.5,)
    parse_band_spec("0.5:100,0.2:100,*:56", invert=True)
    with pytest.raises(BandSpecError, match=r"farther \(smaller, since inverted\) than the one before it, 0.2"):
        parse_band_spec("0.2:100,0.5:100,*:56", invert=True)


def test_labels_with_separators_cannot_be_written_as_a_spec():
    with pytest.raises(ValueError, match=r"band 1 \(face, hands\): a label in --bands cannot hold"):
        format_band_spec(BandPlan((), (Band(256, label="face, hands"),)))


@SETTINGS
@given(st.data())
def test_spec_round_trip(data):
    count = data.draw(st.integers(1, 6))
    splits = sorted(set(data.draw(st.lists(st.floats(0.001, 1e6), min_size=count - 1, max_size=count - 1))))
    words = st.text("abcdefghij xyz-'", max_size=12).map(str.strip)
    weights = data.draw(st.lists(st.integers(0, 9), min_size=len(splits) + 1, max_size=len(splits) + 1))
    bands = tuple(
        Band(
            int(levels),
            data.draw(words),
            data.draw(st.sampled_from(["", "orange", "#12abef", "teal"])),
            data.draw(st.none() | st.integers(0, 359)),
            locked=True,
        )
        for levels in apportion(weights, 256)
    )
    plan = BandPlan(tuple(splits), bands)
    assert parse_band_spec(format_band_spec(plan)) == plan
