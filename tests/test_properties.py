"""Property tests: nearer is never darker, the cutoff clamps, compress keeps order, output size = display window,
invalid pixels never change the valid pixels' levels."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from daz_depthmap.depth.mapping import depth_stats, depth_window, map_linear, map_ranked, rank_depths, subject_mask
from daz_depthmap.exr import depth_image, read_depth

SETTINGS = settings(max_examples=60, deadline=None)

#: Realistic depths: millimetres to kilometres in any unit, as float32.
depths = st.floats(0.0009765625, 1048576.0, allow_nan=False, allow_infinity=False, width=32)
depth_rows = hnp.arrays(np.float32, st.integers(1, 64), elements=depths)
#: Few distinct values, so that ties (one surface at one depth) are common.
tied_rows = st.lists(st.sampled_from([1.5, 2.0, 7.25, 300.0, 301.0, 5000.0]), min_size=1, max_size=40).map(
    lambda v: np.array(v, np.float32)
)
rows = st.one_of(depth_rows, tied_rows)
levels = st.sampled_from([255, 65535])
invalid_values = st.sampled_from([np.inf, -np.inf, np.nan, 1e10, 0.0, -5.0])


def _map(row: np.ndarray, compressed: bool, level: int, invert: bool, far=None, near=None) -> np.ndarray:
    image = depth_image(row.reshape(1, -1))
    window = depth_window(depth_stats(image.depth, image.valid), far, near, invert)
    if compressed:
        return map_ranked(rank_depths(image.depth, image.valid), image.valid, window, level)[0]
    return map_linear(image.depth, image.valid, window, level)[0]


def _never_darker_when_nearer(row: np.ndarray, mapped: np.ndarray, invert: bool) -> None:
    order = np.argsort(-row if invert else row, kind="stable")  # nearest first
    assert np.all(np.diff(mapped[order].astype(np.int64)) <= 0), (row[order], mapped[order])


@SETTINGS
@given(rows, st.booleans(), st.booleans(), levels)
def test_nearer_is_never_darker(row, compressed, invert, level):
    mapped = _map(row, compressed, level, invert)
    _never_darker_when_nearer(row, mapped, invert)
    nearest = row.max() if invert else row.min()
    assert np.all(mapped[row == nearest] == level), "the nearest depth is white"


@SETTINGS
@given(rows, st.booleans(), st.booleans(), levels, st.floats(0.0, 1.0))
def test_the_cutoff_clamps(row, compressed, invert, level, where):
    lo, hi = float(row.min()), float(row.max())
    cutoff = float(np.float32(lo + where * (hi - lo)))  # at the nearest depth too: then all is black
    mapped = _map(row, compressed, level, invert, far=cutoff)
    beyond = row <= cutoff if invert else row >= cutoff
    assert np.all(mapped[beyond] == 0), "everything at or beyond the cutoff is black"
    _never_darker_when_nearer(row, mapped, invert)


@SETTINGS
@given(rows, st.booleans(), levels, st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_levels_are_exactly_half_up_and_the_mask_is_the_same_at_every_bit_depth(row, invert, level, where, near_at):
    """The documented rule, against float64: floor(clip((far - d) / (far - near), 0, 1) * levels + 0.5)."""
    lo, hi = float(row.min()), float(row.max())
    far = float(np.float32(lo + where * (hi - lo))) if not invert else float(np.float32(hi - where * (hi - lo)))
    image = depth_image(row.reshape(1, -1))
    stats = depth_stats(image.depth, image.valid)
    window = depth_window(stats, far, None, invert)
    mapped = map_linear(image.depth, image.valid, window, level)[0].astype(np.int64)
    if not window.beyond_everything and window.far != window.near:
        t = np.clip((window.far - row.astype(np.float64)) / (window.far - window.near), 0.0, 1.0)
        np.testing.assert_array_equal(mapped, np.floor(t * level + 0.5).astype(np.int64))
    masks = [subject_mask(image.depth, image.valid, window)[0] for _ in (8, 16)]
    nearer = row.astype(np.float64) > far if invert else row.astype(np.float64) < far
    expected = np.where(nearer & ~window.beyond_everything, 255, 0)
    if window.far == window.near and not window.beyond_everything:
        expected = np.full_like(expected, 255)
    np.testing.assert_array_equal(masks[0], expected)
    assert np.all(mapped[masks[0] == 0] == 0), "outside the mask the map is black"


@SETTINGS
@given(rows, levels, st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_near_cutoff_clamps_to_white(row, level, a, b):
    lo, hi = float(row.min()), float(row.max())
    near, far = sorted(float(np.float32(lo + t * (hi - lo))) for t in (a, b))
    assume(near < far)
    for compressed in (False, True):
        mapped = _map(row, compressed, level, False, far=far, near=near)
        assert np.all(mapped[row <= near] == level)
        assert np.all(mapped[row >= far] == 0)
        _never_darker_when_nearer(row, mapped, False)


@SETTINGS
@given(rows, levels)
def test_compress_keeps_order_and_equal_depths_share_a_level(row, level):
    mapped = _map(row, True, level, False)
    for value in np.unique(row):
        assert len(np.unique(mapped[row == value])) == 1
    distinct = np.unique(row)
    ranked = _map(distinct, True, level, False)
    assert np.all(np.diff(ranked.astype(np.int64)) < 0), "distinct depths (fewer than the levels) stay apart"
    if len(distinct) > 1:
        assert ranked[0] == level and ranked[-1] == 0


@SETTINGS
@given(
    st.lists(st.tuples(st.integers(0, 63), invalid_values), min_size=1, max_size=20),
    rows,
    st.booleans(),
    st.booleans(),
    levels,
)
def test_invalid_pixels_never_change_the_valid_levels(holes, row, compressed, invert, level):
    """The window comes from the valid data alone, so background pixels anywhere leave the valid levels alone."""
    clean = _map(row, compressed, level, invert)
    dirty = list(row.astype(np.float64))
    for position, value in holes:
        dirty.insert(position % (len(dirty) + 1), value)
    dirty = np.array(dirty, np.float32)
    mapped = _map(dirty, compressed, level, invert)
    valid = depth_image(dirty.reshape(1, -1)).valid[0]
    np.testing.assert_array_equal(mapped[valid], clean)
    assert np.all(mapped[~valid] == 0)


@st.composite
def windows(draw):
    """A display window anywhere (negative corners too) and a data window that may overlap it or not."""
    wx0, wy0 = draw(st.integers(-20, 20)), draw(st.integers(-20, 20))
    ww, wh = draw(st.integers(1, 24)), draw(st.integers(1, 24))
    dx0, dy0 = draw(st.integers(wx0 - 10, wx0 + ww + 5)), draw(st.integers(wy0 - 10, wy0 + wh + 5))
    dw, dh = draw(st.integers(1, 30)), draw(st.integers(1, 30))
    return (wx0, wy0, wx0 + ww - 1, wy0 + wh - 1), (dx0, dy0), (dw, dh)


@SETTINGS
@given(windows(), st.booleans())
def test_output_size_is_the_display_window(exr_writer, exr_part, layout, half):
    display, origin, (dw, dh) = layout
    data = (1.0 + np.arange(dw * dh, dtype=np.float32).reshape(dh, dw) / 8).astype(np.float32)
    with tempfile.TemporaryDirectory() as folder:
        path = exr_writer(Path(folder) / "w.exr", exr_part({"Z": data}, origin=origin, display=display, half=half))
        image = read_depth(path)
    wx0, wy0, wx1, wy1 = display
    assert image.depth.shape == (wy1 - wy0 + 1, wx1 - wx0 + 1)
    # the expected canvas, built pixel by pixel
    expected = np.full(image.depth.shape, np.nan, np.float32)
    stored = data.astype(np.float16).astype(np.float32) if half else data
    for y in range(dh):
        for x in range(dw):
            cx, cy = origin[0] + x - wx0, origin[1] + y - wy0
            if 0 <= cx < expected.shape[1] and 0 <= cy < expected.shape[0]:
                expected[cy, cx] = stored[y, x]
    np.testing.assert_array_equal(image.valid, ~np.isnan(expected))
    np.testing.assert_array_equal(image.depth[image.valid], expected[image.valid])
