"""The 20-bucket advice, the fine histogram, and the suggested cutoff on real and synthetic depth."""

from __future__ import annotations

import re

import numpy as np
import pytest

from daz_depthmap.depth.histogram import ADVICE_HEADER, advice_lines, depth_histogram, suggest_cutoff, suggest_splits
from daz_depthmap.depth.mapping import depth_stats, depth_window
from daz_depthmap.exr import depth_image, read_depth
from tests.synthetic import daz_like_depth

ADVICE_LINE = re.compile(r"^\*\* - (\d\d) - (\d+\.\d\d)% - ([0-9.e+-]+)$")


def _suggest(depth):
    image = depth if hasattr(depth, "valid") else depth_image(depth)
    stats = depth_stats(image.depth, image.valid)
    return suggest_cutoff(image.depth, stats), image.depth[image.valid], stats


def test_advice_has_the_original_format():
    image = depth_image(daz_like_depth(160, 128))
    stats = depth_stats(image.depth, image.valid)
    lines = advice_lines(image.depth, stats)
    assert lines[0] == ADVICE_HEADER == "** providing cutting histogram advice, but leaving depthmap unchanged"
    assert len(lines) == 21
    matches = [ADVICE_LINE.match(line) for line in lines[1:]]
    assert all(matches), lines
    assert [int(m.group(1)) for m in matches] == list(range(20))
    edges = [float(m.group(3)) for m in matches]
    assert edges[0] == stats.nearest
    assert np.all(np.diff(edges) > 0)
    assert edges[-1] < stats.farthest
    shares = [float(m.group(2)) for m in matches]
    assert sum(shares) == pytest.approx(100.0, abs=0.2)
    # the subject is in the first buckets, the backdrop in the last: the dropoff the README talks about
    assert shares[-1] > 50 and max(shares[5:18]) < 1


def test_advice_on_an_empty_image_says_so():
    image = depth_image(np.full((4, 4), np.inf, np.float32))
    lines = advice_lines(image.depth, depth_stats(image.depth, image.valid))
    assert lines[0] == ADVICE_HEADER and "no valid depth" in lines[1]


def test_fine_histogram_counts_only_valid_depth():
    depth = np.array([[1.0, 2.0, 3.0, 4.0, np.inf, np.nan, 1e10, 0.0]], np.float32)
    image = depth_image(depth)
    hist = depth_histogram(image.depth, depth_stats(image.depth, image.valid), bins=256)
    assert len(hist.counts) == 256 and len(hist.edges) == 257
    assert hist.total == 4
    assert (hist.edges[0], hist.edges[-1]) == (1.0, 4.0)
    assert hist.counts[0] == 1 and hist.counts[-1] == 1


@pytest.mark.parametrize("name", ["synthetic_daz_Y_f32_zip_1200.exr", "synthetic_daz_Y_half_zip_1200.exr"])
def test_suggestion_lands_in_the_gap_on_the_synthetic_daz_files(shared_exr_dir, name):
    # figure 170..~282 cm, feathered silhouette thinly spread up to the backdrop at 598..606 cm
    suggestion, valid, _ = _suggest(read_depth(shared_exr_dir / name))
    cutoff = suggestion.cutoff
    assert cutoff is not None, suggestion.reason
    assert 270 < cutoff < 300, suggestion.reason
    subject = valid[valid < 300]
    assert np.mean(subject < cutoff) > 0.99, "nearly all of the figure is nearer than the cutoff"
    between = np.mean((valid >= cutoff) & (valid < 598))
    assert between < 0.01, f"{between:.2%} of the pixels lie between the cutoff and the backdrop"
    assert suggestion.backdrop is not None and 590 < suggestion.backdrop[0] <= 598
    assert "backdrop" in suggestion.reason


@pytest.mark.parametrize(
    "name", ["blender_crowskull_RGBAZ_f32_dwaa_1920x1080.exr", "blender_crowskull_RGBAZ_f32_pxr24_1920x1080.exr"]
)
def test_suggestion_lands_at_the_subjects_end_on_the_blender_files(shared_exr_dir, name):
    # Z background 1e10 is invalid; subject ~2.3..~18, then a thin tail to 42
    suggestion, valid, stats = _suggest(read_depth(shared_exr_dir / name))
    cutoff = suggestion.cutoff
    assert cutoff is not None, suggestion.reason
    assert 15 < cutoff < 20, suggestion.reason
    assert np.mean(valid < cutoff) >= 0.90
    assert np.mean(valid >= cutoff) < 0.10
    assert stats.farthest > 40, "the tail itself is kept as valid depth"


def test_no_gap_on_the_mitsuba_file(shared_exr_dir):
    suggestion, _, _ = _suggest(read_depth(shared_exr_dir / "mitsuba_depth_as_RGBA_f32_piz_512x512.exr"))
    assert suggestion.cutoff is None
    assert "no empty depth range" in suggestion.reason


def test_no_gap_on_a_continuous_ramp():
    ramp = np.tile(np.linspace(1.0, 100.0, 500, dtype=np.float32), (300, 1))
    suggestion, _, _ = _suggest(ramp)
    assert suggestion.cutoff is None and suggestion.gap is None
    assert "continuously" in suggestion.reason


def test_no_suggestion_for_flat_or_empty_images():
    flat, _, _ = _suggest(np.full((8, 8), 3.0, np.float32))
    assert flat.cutoff is None and "flat" in flat.reason
    empty, _, _ = _suggest(np.full((8, 8), np.inf, np.float32))
    assert empty.cutoff is None and "no valid depth" in empty.reason


def test_suggestion_on_the_generated_daz_scene():
    # at this size the feathered silhouette is a few % of the pixels, spread thinly from the figure to the backdrop
    suggestion, valid, stats = _suggest(daz_like_depth(400, 320, seed=1))
    cutoff = suggestion.cutoff
    assert cutoff is not None
    assert 240 < cutoff < 300
    in_front = np.count_nonzero(valid < cutoff) / (cutoff - stats.nearest)
    behind = np.count_nonzero((valid >= cutoff) & (valid < 590)) / (590 - cutoff)
    assert behind < 0.1 * in_front, "the cutoff must sit where the depth thins out"


@pytest.mark.parametrize("seed", [0, 1])
def test_very_far_backdrop_still_gives_the_subjects_edge(seed):
    """Subject 170..280, backdrop at 5000: 256 bins over the range are 19 units wide, the answer must be finer."""
    rng = np.random.default_rng(seed)
    depth = (5000.0 + rng.normal(0.0, 0.5, (400, 400))).astype(np.float32)
    depth[100:300, 100:300] = np.linspace(170.0, 280.0, 200, dtype=np.float32)[None, :]
    suggestion, _, stats = _suggest(depth)
    coarse_edges = np.linspace(stats.nearest, stats.farthest, 257)
    assert suggestion.cutoff is not None, suggestion.reason
    assert 279 < suggestion.cutoff < 282, suggestion.reason
    assert np.min(np.abs(coarse_edges - suggestion.cutoff)) > 0.5, "must not be a coarse bin edge"


def test_very_far_backdrop_behind_the_daz_figure():
    depth = daz_like_depth(400, 320, seed=2)
    figure = depth < 282
    far = np.isfinite(depth) & ~figure
    depth[far] = 5000.0 + np.random.default_rng(2).normal(0.0, 0.5, int(far.sum()))
    suggestion, valid, _ = _suggest(depth)
    assert suggestion.cutoff is not None, suggestion.reason
    assert 250 < suggestion.cutoff < 283, suggestion.reason
    assert np.mean(valid[valid < 1000] < suggestion.cutoff) > 0.99


def test_the_reason_describes_the_gap_from_the_suggested_cutoff(shared_exr_dir):
    suggestion, _, _ = _suggest(read_depth(shared_exr_dir / "synthetic_daz_Y_f32_zip_1200.exr"))
    assert suggestion.gap is not None and suggestion.gap[0] == suggestion.cutoff
    assert f"gap {suggestion.cutoff:g} to " in suggestion.reason


def test_inverted_input_gets_the_suggestion_on_the_small_value_side(shared_exr_dir):
    """Disparity-like input (1000 / depth): the subject holds the large values, the backdrop the small ones."""
    image = read_depth(shared_exr_dir / "synthetic_daz_Y_f32_zip_1200.exr")
    plain = suggest_cutoff(image.depth, depth_stats(image.depth, image.valid))
    disparity = depth_image(np.where(image.valid, 1000.0 / image.depth, np.inf))
    flipped = suggest_cutoff(disparity.depth, depth_stats(disparity.depth, disparity.valid), invert=True)
    assert plain.cutoff is not None and flipped.cutoff is not None, flipped.reason
    assert 1000.0 / flipped.cutoff == pytest.approx(plain.cutoff, rel=0.02)
    assert flipped.backdrop is not None and flipped.backdrop[0] > flipped.backdrop[1], "from near to far"
    ramp = depth_image(np.linspace(1.0, 2.0, 10_000).reshape(100, 100))
    none = suggest_cutoff(ramp.depth, depth_stats(ramp.depth, ramp.valid), invert=True)
    assert none.cutoff is None and "from 2 to 1" in none.reason


def _figures_before_a_backdrop(
    figures: list[tuple[float, float, float]], mixed: int = 0, backdrop: float = 900.0
) -> np.ndarray:
    """Figures (nearest depth, farthest depth, share of the pixels) as blocks side by side before a flat
    backdrop, with ``mixed`` pixels on each silhouette at depths between the figure and the backdrop (as a renderer's
    pixel filter leaves them: the gaps near-empty rather than empty)."""
    height, width = 600, 800
    rng = np.random.default_rng(7)
    depth = np.full((height, width), backdrop, np.float32)
    for i, (near, far, share) in enumerate(figures):
        # a figure as an upright block, its depth growing down its height: the same count in every depth bin
        rows = int(0.8 * height)
        cols = round(share * height * width / rows)
        top, left = (height - rows) // 2, round((i + 0.5) * width / len(figures) - cols / 2)
        depth[top : top + rows, left : left + cols] = np.linspace(near, far, rows, dtype=np.float32)[:, None]
        ring = np.zeros((height, width), bool)
        ring[top - 1 : top + rows + 1, left - 1 : left + cols + 1] = True
        ring[top : top + rows, left : left + cols] = False
        rows, cols = np.nonzero(ring)
        chosen = rng.choice(len(rows), mixed, replace=False)
        depth[rows[chosen], cols[chosen]] = rng.uniform(far, backdrop, mixed)
    return depth


@pytest.mark.parametrize(
    "figures",
    [
        [(150.0, 200.0, 0.04), (400.0, 459.0, 0.09)],  # the second figure holds about a tenth of the picture
        [(150.0, 200.0, 0.05), (330.0, 370.0, 0.03), (560.0, 640.0, 0.06)],  # three subjects
    ],
    ids=["two subjects", "three subjects"],
)
@pytest.mark.parametrize("mixed", [0, 40, 300], ids=["hard edges", "few mixed pixels", "feathered"])
def test_the_suggestion_keeps_every_subject_before_the_backdrop(figures, mixed):
    """A backdrop holding most pixels inflates the average bin (the more so the fewer bins the silhouettes fill):
    the far figures' bins must not look near-empty beside it, and the bands must split between the figures."""
    depth = _figures_before_a_backdrop(figures, mixed)
    suggestion, _, stats = _suggest(depth)
    last_far = figures[-1][1]
    assert suggestion.cutoff is not None, suggestion.reason
    assert last_far - 1 <= suggestion.cutoff < 890, suggestion.reason  # behind the last figure, before the backdrop
    window = depth_window(stats, suggestion.cutoff)
    splits = suggest_splits(depth, stats, window)
    assert len(splits) == len(figures) - 1, splits  # one band per subject: the bands agree with the cutoff
    for (_, far, _), (near, _, _), split in zip(figures[:-1], figures[1:], splits, strict=True):
        assert far < split < near, (splits, figures)
