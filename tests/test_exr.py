"""Reading depth from real and generated EXR files: which channel is used, window pasting, background."""

from __future__ import annotations

import numpy as np
import OpenEXR
import pytest

from daz_depthmap.depth.mapping import depth_stats
from daz_depthmap.exr import DepthReadError, NoDepthChannelError, read_depth
from daz_depthmap.params import DepthParams
from daz_depthmap.render.pipeline import render

#: The channel a user of each known file expects to be used.
EXPECTED_CHANNEL = {
    "blender_crowskull_RGBAZ_f32_dwaa_1920x1080.exr": "Z",
    "blender_crowskull_RGBAZ_f32_pxr24_1920x1080.exr": "Z",
    "gaffer_channelTestNukeSinglePart_depth.Z.exr": "depth.Z",
    "gaffer_imitateProductionLayers2_depth.Z_multipart.exr": "depth_main/depth.Z",
    "mitsuba_depth_as_RGBA_f32_piz_512x512.exr": "R",
    "oei_Beachball_multipart_0001.exr": "depth_left/Z",
    "oei_Beachball_singlepart_0001.exr": "Z",
    "oei_Garden_tiled_Y_half_piz.exr": "Y",
    "oei_GrayRampsHorizontal_Y_half_pxr24.exr": "Y",
    "oei_MultiView_Fog_Y_half_piz.exr": "Y",
    "oei_WideFloatRange_G_f32_pxr24.exr": "G",
    "oex_v1.7.test.1_RGBZ_dataWindow.exr": "Z",
    "oex_v1.7.test.tiled_GZ.exr": "Z",
    "synthetic_daz_Y_f32_zip_1200.exr": "Y",
    "synthetic_daz_Y_half_zip_1200.exr": "Y",
}

#: Files that must be refused, with words the message must hold (besides the file name).
EXPECTED_ERROR = {
    "exrs_f16_b44_RGBA.exr": ("no depth channel", "A, B, G, R"),
    "exrs_f32_dwab_RGBA.exr": ("no depth channel", "A, B, G, R"),
    "exrs_f32_rle_RGBA.exr": ("no depth channel", "A, B, G, R"),
    "gaffer_large_RGBA_half_zips_4096x3112.exr": ("no depth channel", "A, B, G, R"),
    "oei_BrightRingsNanInf_RGB_half_zip.exr": ("no depth channel", "B, G, R"),
    "oei_v2_LowResLeftView_Balls_deep.exr": ("deep",),
}


def _windows(path) -> list[tuple[tuple[int, int, int, int], tuple[int, int, int, int]]]:
    """(data window, display window) of every part, read independently of the code under test."""
    exr = OpenEXR.File(str(path), separate_channels=True, header_only=True)

    def box(b) -> tuple[int, int, int, int]:
        (x0, y0), (x1, y1) = b
        return int(x0), int(y0), int(x1), int(y1)

    return [(box(p.header["dataWindow"]), box(p.header["displayWindow"])) for p in exr.parts]


def test_every_shared_file_maps_or_fails_clearly(shared_exr_file):
    name = shared_exr_file.name
    try:
        image = read_depth(shared_exr_file)
    except DepthReadError as exc:
        message = str(exc)
        assert message.startswith(name), message
        assert name not in EXPECTED_CHANNEL, f"{name} should be readable but: {message}"
        for words in EXPECTED_ERROR.get(name, ()):
            assert words in message
        return
    assert name not in EXPECTED_ERROR, f"{name} should be refused, but channel {image.channel} was read"
    if name in EXPECTED_CHANNEL:
        assert image.channel == EXPECTED_CHANNEL[name]
    assert image.channel in image.channels
    assert image.name == name
    assert image.depth.dtype == np.float32

    _, (x0, y0, x1, y1) = _windows(shared_exr_file)[0]
    assert image.depth.shape == (y1 - y0 + 1, x1 - x0 + 1)

    stats = depth_stats(image.depth, image.valid)
    result = render(image, DepthParams())
    assert result.depth.dtype == np.uint8
    assert result.depth.shape == image.depth.shape
    assert np.all(result.depth[~image.valid] == 0), "background must be black"
    assert np.all(result.depth[image.valid & (image.depth == stats.nearest)] == 255), "the nearest depth is white"
    if stats.farthest > stats.nearest:
        assert np.all(result.depth[image.valid & (image.depth == stats.farthest)] == 0), "the farthest depth is black"


@pytest.mark.parametrize(
    "name",
    ["oex_v1.7.test.1_RGBZ_dataWindow.exr", "oei_Beachball_multipart_0001.exr", "oei_Beachball_singlepart_0001.exr"],
)
def test_data_window_is_pasted_into_the_display_window(shared_exr_dir, name):
    path = shared_exr_dir / name
    image = read_depth(path)
    part = image.channel.split("/")[0]
    exr = OpenEXR.File(str(path), separate_channels=True)
    index = next((i for i, p in enumerate(exr.parts) if p.name() == part), 0)
    channel = image.channel.split("/")[-1]
    (dx0, dy0, dx1, dy1), (wx0, wy0, wx1, wy1) = _windows(path)[index]
    assert (dx0, dy0, dx1, dy1) != (wx0, wy0, wx1, wy1), "test file should have a data window"

    assert image.depth.shape == (wy1 - wy0 + 1, wx1 - wx0 + 1)
    inside = np.zeros(image.depth.shape, bool)
    inside[dy0 - wy0 : dy1 - wy0 + 1, dx0 - wx0 : dx1 - wx0 + 1] = True
    assert not image.valid[~inside].any(), "pixels outside the data window must be background"
    raw = np.asarray(exr.parts[index].channels[channel].pixels, dtype=np.float32)
    np.testing.assert_array_equal(image.depth[inside].reshape(raw.shape), raw)
    assert any("data window" in note for note in image.notes)

    result = render(image, DepthParams())
    assert result.depth.shape == image.depth.shape
    assert not result.depth[~inside].any(), "outside the data window the map is black"
    assert result.depth[inside].max() == 255


def test_explicit_channel_overrides_the_choice(shared_exr_dir):
    single = shared_exr_dir / "oei_Beachball_singlepart_0001.exr"
    left = read_depth(single, channel="left.Z")
    assert left.channel == "left.Z"
    assert not np.array_equal(left.depth, read_depth(single).depth, equal_nan=True)

    multi = shared_exr_dir / "oei_Beachball_multipart_0001.exr"
    assert read_depth(multi, channel="depth_right/Z").channel == "depth_right/Z"

    rgba = shared_exr_dir / "exrs_f32_rle_RGBA.exr"
    assert read_depth(rgba, channel="G").channel == "G"


def test_unknown_channel_lists_the_channels(shared_exr_dir):
    with pytest.raises(DepthReadError) as info:
        read_depth(shared_exr_dir / "exrs_f32_rle_RGBA.exr", channel="depth")
    message = str(info.value)
    assert message.startswith("exrs_f32_rle_RGBA.exr")
    assert "'depth'" in message and "A, B, G, R" in message


# ----------------------------------------------------------------------------------------------------------------
# Generated files: the channel order Y, Z, *.Z / depth, V, R=G=B, a lone channel


def _ramp(h: int = 6, w: int = 8, start: float = 1.0) -> np.ndarray:
    return (start + np.arange(h * w, dtype=np.float32).reshape(h, w)).astype(np.float32)


@pytest.mark.parametrize(
    ("channels", "expected"),
    [
        (["R", "G", "B", "Z", "Y"], "Y"),
        (["R", "G", "B", "A", "Z"], "Z"),
        (["R", "G", "B", "character.Z", "ZBack"], "character.Z"),
        (["R", "G", "B", "ViewLayer.Depth.Z"], "ViewLayer.Depth.Z"),
        (["R", "G", "B", "depth"], "depth"),
        (["A", "V"], "V"),
        (["custom"], "custom"),
    ],
)
def test_channel_choice_order(tmp_path, exr_writer, exr_part, channels, expected):
    data = {name: _ramp(start=1.0 + 100 * i) for i, name in enumerate(channels)}
    path = exr_writer(tmp_path / "c.exr", exr_part(data))
    image = read_depth(path)
    assert image.channel == expected
    np.testing.assert_array_equal(image.depth, data[expected])
    assert set(image.channels) == set(channels)


def test_grey_rgb_uses_r_and_differing_rgb_is_refused(tmp_path, exr_writer, exr_part):
    ramp = _ramp()
    grey = exr_writer(tmp_path / "grey.exr", exr_part({"R": ramp, "G": ramp, "B": ramp, "A": np.ones_like(ramp)}))
    assert read_depth(grey).channel == "R"

    colour = exr_writer(tmp_path / "colour.exr", exr_part({"R": ramp, "G": ramp * 2, "B": ramp}))
    with pytest.raises(NoDepthChannelError) as info:
        read_depth(colour)
    assert str(info.value).startswith("colour.exr")
    assert "B, G, R" in str(info.value)
    assert set(info.value.channels) == {"R", "G", "B"}, "the channels to choose from, for the tab's menu"
    assert read_depth(colour, channel=info.value.channels[0]).channel == info.value.channels[0]


def test_pixel_limit_message_gives_exact_counts_and_the_limit_must_be_positive(tmp_path, exr_writer, exr_part):
    small = exr_writer(tmp_path / "small.exr", exr_part({"Y": _ramp()}))
    height, width = _ramp().shape
    with pytest.raises(DepthReadError) as info:
        read_depth(small, max_pixels=10)
    assert f"{width}x{height} pixels ({width * height:,})" in info.value.problem
    assert "limit of 10 pixels" in info.value.problem
    with pytest.raises(ValueError, match="positive"):
        read_depth(small, max_pixels=0)


def test_multipart_prefers_a_part_named_depth(tmp_path, exr_writer, exr_part):
    ramp = _ramp()
    path = exr_writer(
        tmp_path / "multi.exr",
        [exr_part({"R": ramp, "G": ramp * 3, "B": ramp}, name="beauty"), exr_part({"Z": ramp * 5}, name="depth")],
    )
    image = read_depth(path)
    assert image.channel == "depth/Z"
    np.testing.assert_array_equal(image.depth, ramp * 5)
    assert set(image.channels) == {"beauty/R", "beauty/G", "beauty/B", "depth/Z"}


def test_half_and_float_read_as_float32(tmp_path, exr_writer, exr_part):
    ramp = _ramp()
    for half in (False, True):
        path = exr_writer(tmp_path / f"h{half}.exr", exr_part({"Z": ramp}, half=half))
        image = read_depth(path)
        assert image.depth.dtype == np.float32
        np.testing.assert_array_equal(image.depth, ramp)  # small integers are exact in half


def test_background_values_are_invalid_and_counted(tmp_path, exr_writer, exr_part):
    depth = _ramp(4, 5, start=10.0)
    depth[0, :5] = [np.inf, np.nan, 1e10, 0.0, -5.0]
    depth[1, 0] = -np.inf
    path = exr_writer(tmp_path / "bg.exr", exr_part({"Y": depth}))
    image = read_depth(path)
    assert image.invalid_count == 6
    assert not image.valid[0].any() and not image.valid[1, 0]
    assert image.valid.sum() == 14
    stats = depth_stats(image.depth, image.valid)
    assert (stats.nearest, stats.farthest) == (16.0, 29.0)
    assert stats.invalid_count == 6


def test_data_window_offset_in_a_generated_file(tmp_path, exr_writer, exr_part):
    ramp = _ramp(3, 4)
    path = exr_writer(tmp_path / "dw.exr", exr_part({"Z": ramp}, origin=(5, 7), display=(0, 0, 19, 14)))
    image = read_depth(path)
    assert image.depth.shape == (15, 20)
    np.testing.assert_array_equal(image.depth[7:10, 5:9], ramp)
    assert image.valid.sum() == 12 and image.valid[7:10, 5:9].all()


# ----------------------------------------------------------------------------------------------------------------
# Multi-part files: only the part that is needed is decoded, and never mistaken for another


def _many_parts(exr_writer, exr_part, path, count: int = 50, side: int = 256):
    parts = [
        exr_part({"Z": np.full((side, side), 100.0 + k, np.float32), "A": np.ones((side, side), np.float32)},
                 name=f"layer{k:02d}")
        for k in range(count)
    ]  # fmt: skip
    return exr_writer(path, parts)


def test_only_the_chosen_part_of_a_multi_part_file_is_decoded(tmp_path, exr_writer, exr_part):
    import tracemalloc

    path = _many_parts(exr_writer, exr_part, tmp_path / "fifty.exr")
    tracemalloc.start()
    try:
        image = read_depth(path, "layer37/Z")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert image.channel == "layer37/Z" and np.all(image.depth == 137.0)
    one_part = 2 * 256 * 256 * 4
    assert peak < 6 * one_part, f"{peak / 2**20:.1f} MiB traced: more than the one part was decoded"


def test_a_damaged_part_is_never_read_as_another(tmp_path, exr_writer, exr_part):
    """The bindings drop a part whose pixels fail to decode; the next part then took its index (and its place)."""
    from daz_depthmap.exr.layout import read_layout

    path = exr_writer(
        tmp_path / "two.exr",
        [
            exr_part({"Z": np.full((32, 32), 1.0, np.float32)}, name="depth_left"),
            exr_part({"Z": np.full((32, 32), 2.0, np.float32)}, name="depth_right"),
        ],
    )
    layout = read_layout(path)
    data = bytearray(path.read_bytes())
    first = layout.parts[0].offsets[0]
    size = int.from_bytes(data[first + 8 : first + 12], "little")
    data[first + 12 : first + 12 + size] = bytes(reversed(data[first + 12 : first + 12 + size]))  # scramble its zlib
    path.write_bytes(bytes(data))
    with pytest.raises(DepthReadError, match="damaged or truncated EXR pixel data: part 'depth_left' could not be"):
        read_depth(path, "depth_left/Z")
    right = read_depth(path, "depth_right/Z")
    assert np.all(right.depth == 2.0)
