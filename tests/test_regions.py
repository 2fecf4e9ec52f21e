"""Region maps for Regional Prompter: its exact colours, numbering without holes, connected parts, resizing
nearest-neighbour, and the prompt skeleton."""

from __future__ import annotations

from fractions import Fraction
from math import floor

import cv2
import numpy as np
import pytest

from daz_depthmap.bands.plan import Band, BandPlan, band_counts, band_index, number_regions, suggested_plan
from daz_depthmap.bands.regions import NO_REGION, region_colour, region_map, region_prompt, resize_nearest
from daz_depthmap.depth.histogram import suggest_cutoff
from daz_depthmap.depth.mapping import DepthWindow, depth_stats, depth_window
from daz_depthmap.exr import depth_image, read_depth
from tests.synthetic import two_subject_depth

#: Regional Prompter's own table (deterministic_colours(16)), from ../shared/facts/regional-prompter.md.
RP_TABLE = [
    "#804040", "#408080", "#608040", "#604080", "#807040", "#408050", "#405080", "#804070",
    "#805840", "#788040", "#488040", "#408068", "#406880", "#484080", "#784080", "#804058",
]  # fmt: skip


def closed_form(i: int) -> tuple[int, int, int]:
    """RP's colour in exact rationals: hue h(i), HSV (h, 1/2, 1/2) to RGB, times 256, truncated."""
    if i == 0:
        hue = Fraction(0)
    else:
        c = 0
        while 2**c < i + 1:  # c = ceil(log2(i + 1))
            c += 1
        hue = Fraction(2 * (i - 2 ** (c - 1)) + 1, 2**c)
    sector, f = floor(hue * 6), hue * 6 - floor(hue * 6)
    v, p, q, t = Fraction(1, 2), Fraction(1, 4), Fraction(1, 2) - f / 4, Fraction(1, 4) + f / 4
    rgb = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][sector % 6]
    return tuple(floor(x * 256) for x in rgb)  # type: ignore[return-value]


def hex_of(rgb):
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def test_region_colours_are_regional_prompters_table():
    assert [hex_of(region_colour(i)) for i in range(16)] == RP_TABLE


def test_region_colours_match_the_closed_form_for_every_region():
    colours = [region_colour(i) for i in range(360)]
    assert colours == [closed_form(i) for i in range(360)]
    assert all(max(c) == 128 and min(c) == 64 for c in colours), "S = V = 0.5: RP's recognition window"
    assert len(set(colours[:256])) == 256 and colours[256] == colours[0], "RP's own duplicates start at 256"
    with pytest.raises(ValueError, match="0..359"):
        region_colour(360)


def index_image(rows):
    return np.array(rows, np.int16)


def test_bands_are_painted_in_their_region_colour_and_renumbered_without_holes():
    plan = BandPlan((1.0, 2.0, 3.0), (Band(64, "face", region=1), Band(64), Band(64, "mirror", region=3), Band(64)))
    index = index_image([[0, 0, 1, 2], [2, 3, -1, 0]])
    result = region_map(index, plan)
    image = result.image
    assert image.shape == (2, 4, 3) and image.dtype == np.uint8
    assert image[0, 0].tolist() == list(region_colour(0)), "region 1 is the first present: it becomes 0"
    assert image[0, 3].tolist() == list(region_colour(1)), "region 3 becomes 1"
    for y, x in [(0, 2), (1, 1), (1, 2)]:
        assert image[y, x].tolist() == list(NO_REGION)
    assert [(r.number, r.requested, r.label, r.pixels) for r in result.regions] == [
        (0, 1, "face", 3),
        (1, 3, "mirror", 2),
    ]
    assert result.renumbered == {1: (0,), 3: (1,)}
    assert "region 1 (face) is region 0 in the map" in result.notes
    assert "region 3 (mirror) is region 1 in the map" in result.notes


def test_bands_sharing_a_region_number_share_the_region():
    plan = BandPlan((1.0, 2.0), (Band(100, "person", region=0), Band(6, "desk", region=0), Band(150, region=1)))
    result = region_map(index_image([[0, 1, 2, -1]]), plan)
    assert result.image[0, 0].tolist() == result.image[0, 1].tolist() == list(region_colour(0))
    assert [(r.label, r.bands) for r in result.regions] == [("person, desk", (0, 1)), ("region 1", (2,))]
    assert result.notes == ()


def discs_scene():
    """Two discs side by side at 200 in front of a backdrop at 800, the right one higher; a 4-pixel speck."""
    y, x = np.mgrid[0:120, 0:240]
    depth = np.full((120, 240), 800.0, np.float32)
    depth[(x - 60) ** 2 + (y - 70) ** 2 < 30**2] = 200.0
    depth[(x - 180) ** 2 + (y - 40) ** 2 < 25**2] = 201.0
    depth[100:102, 200:202] = 199.0
    image = depth_image(depth)
    plan = BandPlan((500.0,), (Band(200, "figure", region=0), Band(56)))
    return image, plan, band_index(image.depth, image.valid, plan, DepthWindow(150.0, 900.0, cutoff=True))


def test_connected_parts_become_regions_left_to_right_and_specks_no_region():
    image, plan, index = discs_scene()
    result = region_map(index, plan, split_parts=True, min_area=20)
    assert [(r.number, r.part, r.label) for r in result.regions] == [(0, 1, "figure 1"), (1, 2, "figure 2")]
    assert result.image[70, 60].tolist() == list(region_colour(0)), "the left disc is region 0"
    assert result.image[40, 180].tolist() == list(region_colour(1)), "the right disc is region 1"
    assert result.image[100, 200].tolist() == list(NO_REGION), "the speck is no region"
    assert result.regions[0].pixels == np.count_nonzero(image.depth == 200.0)
    assert any("1 speck under 20 pixels" in note for note in result.notes)
    assert any("is 2 parts, left to right regions 0, 1" in note for note in result.notes)
    whole = region_map(index, plan)
    assert len(whole.regions) == 1 and whole.image[100, 200].tolist() == list(region_colour(0))
    unsplit = region_map(index, plan, min_area=20)
    assert len(unsplit.regions) == 1 and unsplit.image[100, 200].tolist() == list(NO_REGION)


def test_parts_starting_at_the_same_column_are_numbered_top_first():
    index = np.full((20, 10), -1, np.int16)
    index[12:18, 2:6] = 0  # lower part
    index[2:6, 2:8] = 0  # upper part, same leftmost column
    plan = BandPlan((), (Band(256, "box", region=0),))
    result = region_map(index, plan, split_parts=True)
    assert result.image[3, 3].tolist() == list(region_colour(0))
    assert result.image[15, 3].tolist() == list(region_colour(1))


def test_nearest_neighbour_resizing_keeps_only_table_colours():
    image, plan, index = discs_scene()
    table = {tuple(region_colour(i)) for i in range(2)} | {NO_REGION}
    result = region_map(index, plan, size=(512, 300), split_parts=True, min_area=20)
    assert result.image.shape == (300, 512, 3)
    assert {tuple(c) for c in result.image.reshape(-1, 3).tolist()} == table
    resized = resize_nearest(region_map(index, plan, split_parts=True, min_area=20).image, (97, 61))
    assert {tuple(c) for c in resized.reshape(-1, 3).tolist()} <= table
    smooth = cv2.resize(result.image, (97, 61), interpolation=cv2.INTER_LINEAR)
    assert not {tuple(c) for c in smooth.reshape(-1, 3).tolist()} <= table, "what nearest-neighbour avoids"


def test_a_region_lost_in_resizing_leaves_no_hole():
    index = np.full((100, 100), 1, np.int16)
    index[3:5, 53:55] = 0  # a 2x2 region between the pixels a 10x10 map samples
    plan = BandPlan((1.0,), (Band(128, "tiny", region=0), Band(128, "wall", region=1)))
    result = region_map(index, plan, size=(10, 10))
    assert [(r.number, r.requested) for r in result.regions] == [(0, 1)]
    assert {tuple(c) for c in result.image.reshape(-1, 3).tolist()} == {region_colour(0)}
    assert "region 0 (tiny) holds no pixels in the map and is left out" in result.notes
    assert "region 1 (wall) is region 0 in the map" in result.notes
    with pytest.raises(ValueError, match="must be positive"):
        region_map(index, plan, size=(0, 10))


def test_more_parts_than_regional_prompter_takes_is_refused():
    index = np.full((40, 40), -1, np.int16)
    index[::2, ::2] = 0  # 400 separate pixels
    plan = BandPlan((), (Band(256, region=0),))
    with pytest.raises(ValueError, match="400 regions, but Regional Prompter takes at most 360"):
        region_map(index, plan, split_parts=True)
    assert len(region_map(index, plan, split_parts=True, min_area=2).regions) == 0


def test_prompt_skeleton_one_chunk_per_region_in_order():
    plan = BandPlan(
        (132.0, 153.8, 170.0, 210.0),
        (Band(90, "face", region=0), Band(4, "desk"), Band(60, "mirror frame", region=1),
         Band(90, "reflection", region=2), Band(12, "background")),
    )  # fmt: skip
    result = region_map(index_image([[0, 1, 2, 3, 4, -1]]), plan)
    assert region_prompt(result.regions) == "face BREAK\nmirror frame BREAK\nreflection"
    assert region_prompt(result.regions, base="a quiet study") == (
        "a quiet study BREAK\nface BREAK\nmirror frame BREAK\nreflection"
    )
    assert region_prompt(region_map(discs_scene()[2], discs_scene()[1], split_parts=True, min_area=20).regions) == (
        "figure 1 BREAK\nfigure 2"
    )


def test_every_band_with_pixels_becomes_a_region_near_to_far():
    plan = BandPlan((1.0, 2.0, 3.0), tuple(Band(64) for _ in range(4)))
    assert [b.region for b in number_regions(plan, [5, 0, 3, 1]).bands] == [0, None, 1, 2]


def test_region_map_of_the_two_subject_scene():
    image = depth_image(two_subject_depth(400, 320, seed=3))
    stats = depth_stats(image.depth, image.valid)
    window = depth_window(stats, 420.0)
    plan = suggested_plan(image.depth, image.valid, stats, window)
    index = band_index(image.depth, image.valid, plan, window)
    result = region_map(index, plan, size=(512, 640))
    assert [r.number for r in result.regions] == [0, 1]
    near = cv2.resize(
        ((image.depth > 145) & (image.depth < 212)).view(np.uint8), (512, 640), interpolation=cv2.INTER_NEAREST
    )
    assert np.all(result.image[near.astype(bool)] == region_colour(0)), "the near figure is region 0"
    backdrop = cv2.resize((image.depth > 790).view(np.uint8), (512, 640), interpolation=cv2.INTER_NEAREST)
    assert np.all(result.image[backdrop.astype(bool)] == NO_REGION), "beyond the far cutoff: no region"


def test_region_map_of_the_real_file(shared_exr_dir):
    image = read_depth(shared_exr_dir / "synthetic_daz_Y_f32_zip_1200.exr")
    stats = depth_stats(image.depth, image.valid)
    window = depth_window(stats, suggest_cutoff(image.depth, stats).cutoff)
    plan = BandPlan((220.0,), (Band(128, "upper body"), Band(128, "legs")))
    index = band_index(image.depth, image.valid, plan, window)
    plan = number_regions(plan, band_counts(index, 2))
    result = region_map(index, plan, size=(512, 512), split_parts=True, min_area=50)
    colours = {tuple(c) for c in result.image.reshape(-1, 3).tolist()}
    assert colours == {region_colour(r.number) for r in result.regions} | {NO_REGION}
    assert [r.number for r in result.regions] == list(range(len(result.regions)))
    assert result.regions[0].requested == 0 and result.regions[0].pixels > 0.1 * 512 * 512


@pytest.mark.parametrize(
    ("split_parts", "min_area", "bytes_per_pixel"),
    [(False, 0, 3), (True, 0, 6), (False, 50, 6)],
)
def test_a_region_map_costs_little_more_than_its_picture(split_parts: bool, min_area: int, bytes_per_pixel: int):
    """The map is made a slice of pixels at a time: besides its RGB picture (3 bytes a pixel), at most an int16 key
    per pixel and one region's mask (OpenCV's connected parts, int32, are not counted here), and a few MB for a
    slice. Before, whole-image int32 and int64 temporaries took 16 to 25 bytes a pixel: 2.3 GB at 100 megapixels."""
    import tracemalloc

    height, width = 1500, 2000
    depth = np.tile(np.linspace(100.0, 700.0, width, dtype=np.float32), (height, 1))
    valid = np.ones(depth.shape, bool)
    plan = BandPlan((300.0, 500.0), (Band(10, region=0), Band(10, region=1), Band(10, region=2)))
    index = band_index(depth, valid, plan, depth_window(depth_stats(depth, valid), None, None, False))
    tracemalloc.start()
    try:
        made = region_map(index, plan, split_parts=split_parts, min_area=min_area)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(made.regions) == 3
    assert peak < bytes_per_pixel * depth.size + 8 * 2**20, f"{peak / depth.size:.1f} bytes a pixel"
