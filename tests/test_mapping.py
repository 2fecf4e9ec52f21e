"""Depth to grey levels: near white, far and background black, rounding, compress_map, mask and noise."""

from __future__ import annotations

import numpy as np
import pytest

from daz_depthmap.depth.mapping import (
    DepthWindow,
    depth_stats,
    depth_window,
    map_linear,
    map_ranked,
    paint_noise,
    rank_depths,
    rank_index,
    subject_mask,
)
from daz_depthmap.exr import depth_image
from daz_depthmap.params import DepthParams
from daz_depthmap.render.pipeline import NoDepthError, render
from tests.synthetic import daz_like_depth


def _image(values):
    return depth_image(np.asarray(values, dtype=np.float32).reshape(1, -1))


def _linear(values, far=None, near=None, levels=255, invert=False):
    image = _image(values)
    window = depth_window(depth_stats(image.depth, image.valid), far, near, invert)
    return map_linear(image.depth, image.valid, window, levels)[0]


def _ranked(values, far=None, near=None, levels=255, invert=False):
    image = _image(values)
    window = depth_window(depth_stats(image.depth, image.valid), far, near, invert)
    return map_ranked(rank_depths(image.depth, image.valid), image.valid, window, levels)[0]


def test_near_is_white_far_is_black():
    assert _linear([1.0, 2.0, 3.0]).tolist() == [255, 128, 0]
    assert _linear([1.0, 2.0, 3.0], levels=65535).tolist() == [65535, 32768, 0]
    assert _linear([1.0, 2.0, 3.0]).dtype == np.uint8
    assert _linear([1.0, 2.0, 3.0], levels=65535).dtype == np.uint16


def test_invert_makes_the_largest_value_white():
    assert _linear([1.0, 2.0, 3.0], invert=True).tolist() == [0, 128, 255]
    assert _ranked([1.0, 2.0, 3.0], invert=True).tolist() == [0, 128, 255]


def test_background_is_black_and_counted():
    values = [np.inf, np.nan, 1e10, 0.0, -5.0, -np.inf, 10.0, 20.0]
    image = _image(values)
    stats = depth_stats(image.depth, image.valid)
    assert (stats.valid_count, stats.invalid_count) == (2, 6)
    assert (stats.nearest, stats.farthest) == (10.0, 20.0)
    for invert in (False, True):
        assert _linear(values, invert=invert)[:6].tolist() == [0] * 6
        assert _ranked(values, invert=invert)[:6].tolist() == [0] * 6
    assert _linear(values)[6:].tolist() == [255, 0]


def test_one_inf_pixel_does_not_whiten_the_map():
    """The original tool's failure: a single +inf pixel made everything else white."""
    depth = daz_like_depth(120, 96, seed=1)
    assert np.isinf(depth).any()
    result = render(depth_image(depth), DepthParams())
    assert 0 < np.count_nonzero(result.depth == 255) < depth.size // 100
    assert np.count_nonzero(result.depth < 128) > depth.size // 2  # the backdrop is dark


def test_flat_image_is_white_where_valid():
    assert _linear([5.0, 5.0, np.inf, 5.0]).tolist() == [255, 255, 0, 255]
    assert _ranked([5.0, 5.0, np.inf, 5.0]).tolist() == [255, 255, 0, 255]
    assert _linear([5.0, 5.0], levels=65535).tolist() == [65535, 65535]


def test_cutoff_nearer_than_everything_is_all_black():
    assert _linear([10.0, 11.0, 12.0], far=5.0).tolist() == [0, 0, 0]
    assert _ranked([10.0, 11.0, 12.0], far=5.0).tolist() == [0, 0, 0]


def test_cutoff_clamps_everything_beyond_it():
    levels = _linear([100.0, 150.0, 200.0, 600.0, 605.0], far=200.0)
    assert levels.tolist() == [255, 128, 0, 0, 0]


@pytest.mark.parametrize("invert", [False, True])
def test_cutoff_at_the_nearest_depth_keeps_what_lies_beyond_black(invert):
    values = [100.0, 150.0, 600.0] if not invert else [600.0, 150.0, 100.0]
    cutoff = 100.0 if not invert else 600.0
    assert _linear(values, far=cutoff, invert=invert)[1:].tolist() == [0, 0]
    assert _ranked(values, far=cutoff, invert=invert)[1:].tolist() == [0, 0]


def test_near_cutoff_clamps_nearer_depth_to_white():
    levels = _linear([100.0, 150.0, 200.0, 250.0, 300.0], near=200.0)
    assert levels.tolist() == [255, 255, 255, 128, 0]


@pytest.mark.parametrize("invert", [False, True])
def test_near_cutoff_not_nearer_than_far_is_a_clear_error(invert):
    image = _image([1.0, 2.0, 3.0])
    stats = depth_stats(image.depth, image.valid)
    near, far = (3.0, 2.0) if not invert else (2.0, 3.0)
    for n in (near, far):
        with pytest.raises(ValueError, match="near cutoff"):
            depth_window(stats, far, n, invert)


def test_render_reports_contradicting_cutoffs_and_empty_images():
    image = _image([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="near cutoff 2.5 must be nearer than the far end 2"):
        render(image, DepthParams(depth_cutoff=2.0, near_cutoff=2.5))
    with pytest.raises(NoDepthError, match="no valid depth"):
        render(_image([np.inf, 0.0, np.nan]), DepthParams())


def test_rounding_is_half_up():
    # window 0..510 over 255 levels: depth 509 sits exactly on 0.5, 507 on 1.5, 505 on 2.5
    window = DepthWindow(0.0, 510.0)
    depth = np.array([[509.0, 507.0, 505.0, 503.0]], np.float32)
    levels = map_linear(depth, np.ones_like(depth, bool), window)
    assert levels[0].tolist() == [1, 2, 3, 4]  # round-half-even would give 0, 2, 2, 4


def test_compress_spreads_few_distinct_values_over_all_levels():
    values = [1.0, 2.0, 1000.0, 1001.0, 5000.0, 2.0, 1.0]
    assert _ranked(values).tolist() == [255, 191, 128, 64, 0, 191, 255]
    assert _ranked(values, levels=65535).tolist() == [65535, 49151, 32768, 16384, 0, 49151, 65535]
    # a linear map crushes the four near values together
    assert len(set(_linear(values).tolist())) == 3


def test_compress_keeps_order():
    rng = np.random.default_rng(7)
    values = rng.choice(rng.uniform(1, 1000, 300), 2000)
    levels = _ranked(values)
    order = np.argsort(values, kind="stable")
    assert np.all(np.diff(levels[order].astype(int)) <= 0)
    assert levels.max() == 255 and levels.min() == 0


def test_compress_with_cutoff_collapses_everything_beyond_it_to_black():
    values = [1.0, 2.0, 1000.0, 1001.0, 5000.0]
    assert _ranked(values, far=1000.0).tolist() == [255, 128, 0, 0, 0]
    assert _ranked(values, far=500.0).tolist() == [255, 128, 0, 0, 0]


def test_ranked_preview_matches_the_full_map():
    image = depth_image(daz_like_depth(200, 160, seed=2))
    stats = depth_stats(image.depth, image.valid)
    ranks = rank_depths(image.depth, image.valid)
    for far in (None, 300.0, 250.0):
        window = depth_window(stats, far)
        full = map_ranked(ranks, image.valid, window)
        preview = (slice(1, None, 4), slice(2, None, 3))
        small = map_ranked(rank_index(ranks, image.depth[preview]), image.valid[preview], window)
        np.testing.assert_array_equal(small, full[preview])


def test_mask_is_black_on_the_far_plane_and_white_on_the_subject():
    image = _image([np.inf, 100.0, 150.0, 200.0, 600.0, 199.99])
    window = depth_window(depth_stats(image.depth, image.valid), 200.0)
    mask = subject_mask(image.depth, image.valid, window)
    assert mask[0].tolist() == [0, 255, 255, 0, 0, 255]  # 199.99 maps to level 0 but lies nearer than the cutoff
    assert mask.dtype == np.uint8


def test_the_mask_is_the_same_at_8_and_16_bits_and_in_the_preview():
    """Defined in depth, the mask cannot depend on the output's levels (it was taken from 8- or 16-bit levels)."""
    depth = daz_like_depth(300, 240, seed=11)
    image = depth_image(depth)
    for far in (257.3, 281.0, None):
        masks = [
            render(image, DepthParams(depth_cutoff=far, mask=True, bits=bits, compress_map=compress)).mask
            for bits in (8, 16)
            for compress in (False, True)
        ]
        for other in masks[1:]:
            np.testing.assert_array_equal(masks[0], other)
        expected = image.valid & (image.depth.astype(np.float64) < (far or image.depth[image.valid].max()))
        np.testing.assert_array_equal(masks[0] == 255, expected)


def test_the_mask_of_flat_and_all_clipped_images():
    flat = _image([5.0, 5.0, np.inf])
    stats = depth_stats(flat.depth, flat.valid)
    assert subject_mask(flat.depth, flat.valid, depth_window(stats))[0].tolist() == [255, 255, 0]
    assert subject_mask(flat.depth, flat.valid, depth_window(stats, 5.0))[0].tolist() == [0, 0, 0]
    image = _image([1.0, 2.0])
    assert subject_mask(image.depth, image.valid, depth_window(depth_stats(image.depth, image.valid), 0.5))[
        0
    ].tolist() == [0, 0]


def _reference_levels(depth: np.ndarray, valid: np.ndarray, near: float, far: float, levels: int) -> np.ndarray:
    """The documented rule in float64: floor(clip((far - d) / (far - near), 0, 1) * levels + 0.5)."""
    t = np.clip((far - depth.astype(np.float64)) / (far - near), 0.0, 1.0)
    return np.where(valid, np.floor(t * levels + 0.5), 0).astype(np.int64)


@pytest.mark.parametrize("levels", [255, 65535])
def test_rounding_is_exactly_half_up_against_a_float64_reference(shared_exr_dir, levels):
    """float32 arithmetic was off by one level on thousands of pixels at 16 bits (and some at 8)."""
    from daz_depthmap.exr import read_depth

    image = read_depth(shared_exr_dir / "synthetic_daz_Y_f32_zip_1200.exr")
    stats = depth_stats(image.depth, image.valid)
    for far in (257.3, 281.0, 600.0):
        window = depth_window(stats, far)
        mapped = map_linear(image.depth, image.valid, window, levels).astype(np.int64)
        expected = _reference_levels(image.depth, image.valid, stats.nearest, far, levels)
        assert np.count_nonzero(mapped != expected) == 0, f"cutoff {far}"


def test_ranked_levels_are_exactly_half_up_at_16_bits():
    values = np.arange(1, 70001, dtype=np.float32)  # 70000 distinct depths: float32 rank arithmetic drifts here
    image = _image(values)
    ranks = rank_depths(image.depth, image.valid)
    window = depth_window(depth_stats(image.depth, image.valid))
    mapped = map_ranked(ranks, image.valid, window, 65535)[0].astype(np.int64)
    top = len(values) - 1
    rank = np.arange(len(values), dtype=np.int64)
    expected = ((top - rank) * 2 * 65535 + top) // (2 * top)
    np.testing.assert_array_equal(mapped, expected)


def test_noise_fills_only_the_far_plane_reproducibly():
    depth = daz_like_depth(120, 96, seed=4)
    image = depth_image(depth)
    window = depth_window(depth_stats(image.depth, image.valid), 300.0)
    mapped = map_linear(image.depth, image.valid, window)
    mask = subject_mask(image.depth, image.valid, window)
    far = mask == 0
    noisy = paint_noise(mapped, mask, 255, seed=5)
    np.testing.assert_array_equal(noisy[~far], mapped[~far])
    assert len(np.unique(noisy[far])) > 200, "the far plane holds grey levels across the whole range"
    np.testing.assert_array_equal(noisy, paint_noise(mapped, mask, 255, seed=5))
    assert not np.array_equal(noisy, paint_noise(mapped, mask, 255, seed=6))
    assert paint_noise(mapped.astype(np.uint16) * 257, mask, 65535, seed=5)[far].max() > 255


def test_a_negative_noise_seed_is_refused_by_name():
    from daz_depthmap.params import DepthParams

    with pytest.raises(ValueError, match="noise seed"):
        DepthParams(noise=True, seed=-5)
    assert DepthParams(noise=True, seed=0).seed == 0
