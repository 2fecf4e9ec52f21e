"""Canvas sets: DAZ Studio's canvases grouped by scene name; the render for pose detection (beauty)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daz_depthmap.canvas.beauty import exposure_scale, read_beauty, tone_map
from daz_depthmap.canvas.sets import canvas_file, group_canvases
from daz_depthmap.exr import DepthReadError


def parts(canvas_set) -> dict[str, str | None]:
    return {
        "depth": canvas_set.depth.path.name if canvas_set.depth else None,
        "normal": canvas_set.normal.path.name if canvas_set.normal else None,
        "beauty": canvas_set.beauty.path.name if canvas_set.beauty else None,
    }


def test_a_render_with_its_three_canvases_and_its_png_is_one_set():
    found = group_canvases(
        [
            "renders/portrait_canvases/portrait-Canvas3-Normal.exr",
            "renders/portrait_canvases/portrait-Canvas1-Beauty.exr",
            "renders/portrait.png",
            "renders/portrait_canvases/portrait-Canvas2-Depth.exr",
        ]
    )
    assert len(found.sets) == 1 and not found.ignored
    (portrait,) = found.sets
    assert portrait.scene == "portrait"
    assert parts(portrait) == {
        "depth": "portrait-Canvas2-Depth.exr",
        "normal": "portrait-Canvas3-Normal.exr",
        "beauty": "portrait.png",
    }
    assert [f.path.name for f in portrait.others] == ["portrait-Canvas1-Beauty.exr"], "kept, not lost"
    assert portrait.conflicts == (), "a render image and a Beauty canvas together are normal, not a conflict"
    assert portrait.depth.canvas == "Canvas2" and portrait.depth.type == "Depth"
    assert portrait.depth.path == Path("renders/portrait_canvases/portrait-Canvas2-Depth.exr")


def test_without_a_render_image_the_beauty_canvas_is_the_beauty():
    (scene,) = group_canvases(["scene-Canvas1-Beauty.exr", "scene-Canvas2-Depth.exr"]).sets
    assert parts(scene) == {"depth": "scene-Canvas2-Depth.exr", "normal": None, "beauty": "scene-Canvas1-Beauty.exr"}


def test_scene_names_with_dashes_and_a_scene_named_like_their_prefix():
    found = group_canvases(
        [
            "my-scene-Canvas2-Depth.exr",
            "my-Canvas2-Depth.exr",
            "my-scene-Canvas3-Normal.exr",
            "my-scene.jpg",
            "my-Canvas3-Normal.exr",
        ]
    )
    assert [s.scene for s in found.sets] == ["my", "my-scene"]
    my, my_scene = found.sets
    assert parts(my) == {"depth": "my-Canvas2-Depth.exr", "normal": "my-Canvas3-Normal.exr", "beauty": None}
    assert parts(my_scene) == {
        "depth": "my-scene-Canvas2-Depth.exr",
        "normal": "my-scene-Canvas3-Normal.exr",
        "beauty": "my-scene.jpg",
    }


def test_a_renamed_canvas_with_dashes_joins_the_scene_another_file_names():
    found = group_canvases(["my-scene-key-light-Depth.exr", "my-scene.png", "my-scene-Canvas3-Normal.exr"])
    (scene,) = found.sets
    assert scene.scene == "my-scene"
    assert scene.depth.canvas == "key-light"
    assert parts(scene)["normal"] == "my-scene-Canvas3-Normal.exr"


def test_type_and_extension_case_and_scene_case_do_not_matter():
    found = group_canvases(["Portrait-canvas2-DEPTH.EXR", "portrait-Canvas3-normal.exr", "PORTRAIT.PNG"])
    (scene,) = found.sets
    assert parts(scene) == {
        "depth": "Portrait-canvas2-DEPTH.EXR",
        "normal": "portrait-Canvas3-normal.exr",
        "beauty": "PORTRAIT.PNG",
    }
    assert scene.depth.kind == "depth" and scene.depth.type == "DEPTH"


def test_stray_files_stay_alone_or_are_ignored_with_a_reason():
    found = group_canvases(
        [
            "portrait-Canvas2-Depth.exr",
            "portrait-Canvas4-Toon.exr",
            "portrait-final-v2.exr",  # dashes, but no canvas type and no CanvasN: a plain depth file
            "depth.exr",
            "holiday.png",
            "notes.txt",
            "portrait.depth.png",  # an output of this tool
        ]
    )
    assert [s.scene for s in found.sets] == ["depth", "portrait", "portrait-final-v2"]
    depth_only, portrait, plain = found.sets
    assert parts(depth_only) == {"depth": "depth.exr", "normal": None, "beauty": None}
    assert parts(plain) == {"depth": "portrait-final-v2.exr", "normal": None, "beauty": None}
    assert [f.path.name for f in portrait.others] == ["portrait-Canvas4-Toon.exr"]
    assert portrait.others[0].kind == "other"
    ignored = {path.name: reason for path, reason in found.ignored}
    assert ignored["notes.txt"] == "not an EXR, PNG or JPEG file"
    assert ignored["holiday.png"] == "no canvas of a scene named 'holiday' among the files"
    assert ignored["portrait.depth.png"] == "no canvas of a scene named 'portrait.depth' among the files"


def test_two_depth_canvases_for_one_scene_are_a_conflict_that_names_both():
    found = group_canvases(["a-Canvas10-Depth.exr", "a-Canvas2-Depth.exr", "a.jpg", "a.png"])
    (scene,) = found.sets
    assert scene.depth.path.name == "a-Canvas2-Depth.exr", "Canvas2 before Canvas10 (natural order)"
    assert scene.beauty.path.name == "a.png", "PNG before JPEG"
    assert scene.conflicts == (
        "scene 'a' has 2 Depth canvases (a-Canvas2-Depth.exr, a-Canvas10-Depth.exr); using a-Canvas2-Depth.exr",
        "scene 'a' has 2 render images (a.png, a.jpg); using a.png",
    )
    assert {f.path.name for f in scene.others} == {"a-Canvas10-Depth.exr", "a.jpg"}


def test_an_image_saved_from_a_normal_canvas_is_not_the_canvas():
    assert canvas_file("scene-Canvas3-Normal.png").kind == "other"
    assert canvas_file("scene-Canvas1-Beauty.jpg").kind == "beauty"
    assert canvas_file("scene-Canvas3-Normal.exr").kind == "normal"
    assert canvas_file("scene-Canvas7-Ambient Occlusion.exr").kind == "other"


NAMES = [
    "b-Canvas2-Depth.exr",
    "b-Canvas3-Normal.exr",
    "b.png",
    "a-b-Canvas2-Depth.exr",
    "a-b.jpg",
    "a-Canvas2-Depth.exr",
    "a-Canvas12-Depth.exr",
    "stray.exr",
    "readme.md",
    "x-Canvas1-Toon.exr",
    "C-Canvas2-Depth.exr",
    "c-Canvas3-Normal.exr",
    "c.PNG",
    "elsewhere/c-Canvas4-Toon.exr",
    "c-Canvas4-Toon.exr",
    "notes.txt",
    "holiday.jpg",
]


@settings(max_examples=50, deadline=None)
@given(st.permutations(NAMES))
def test_the_grouping_does_not_depend_on_the_order_given(order):
    assert group_canvases(order) == group_canvases(NAMES)


def test_the_same_path_given_twice_counts_once():
    (scene,) = group_canvases(["s-Canvas2-Depth.exr", "s-Canvas2-Depth.exr"]).sets
    assert scene.conflicts == ()


# ----------------------------------------------------------------------------------------------------------------
# The beauty for pose detection


def test_tone_map_uses_the_srgb_curve_and_rounds_half_up():
    linear = np.array([[[0.0, 0.0031308, 0.18], [0.5, 1.0, 4.0]]], np.float32)
    assert tone_map(linear, scale=1.0).tolist() == [[[0, 10, 118], [188, 255, 255]]]


def test_tone_map_exposes_the_99th_percentile_of_luminance_to_white():
    ramp = np.linspace(0.01, 20.0, 100 * 100, dtype=np.float32).reshape(100, 100)
    grey = np.repeat(ramp[..., None], 3, axis=2)
    assert exposure_scale(grey) == pytest.approx(1 / np.percentile(ramp, 99), rel=1e-6)
    white = np.percentile(ramp, 99)
    image = tone_map(grey)
    assert (image[ramp >= white] == 255).all(), "the brightest 1 % clip to white"
    assert (image[ramp < 0.98 * white] < 255).all(), "nothing darker does"
    assert image[0, 0].tolist() == [2, 2, 2], "0.01 / 19.8 = 0.0005 linear; 12.92 * 0.0005 * 255 = 1.7: not crushed"


def test_tone_map_paints_nan_black_and_infinity_white():
    bad = np.array([[[np.nan, np.inf, -3.0]]], np.float32)
    assert tone_map(bad, scale=1.0).tolist() == [[[0, 255, 0]]]
    with pytest.raises(ValueError, match="exposure scale"):
        tone_map(bad, scale=0.0)


def test_a_beauty_canvas_exr_is_tone_mapped_and_alpha_is_left_out(tmp_path, exr_writer, exr_part):
    red = np.zeros((4, 6), np.float32)
    red[:, :3] = 2.0
    path = exr_writer(
        tmp_path / "scene-Canvas1-Beauty.exr",
        exr_part({"R": red, "G": np.zeros_like(red), "B": np.zeros_like(red), "A": np.ones_like(red)}, half=True),
    )
    beauty = read_beauty(path)
    assert beauty.image.shape == (4, 6, 3) and beauty.image.dtype == np.uint8
    assert beauty.image[0, 0].tolist() == [255, 0, 0], "red stays red, exposed to white"
    assert beauty.image[0, 5].tolist() == [0, 0, 0]
    assert any("sRGB" in note for note in beauty.notes)


def test_a_png_render_is_read_as_is_in_rgb_order(tmp_path):
    bgr = np.zeros((3, 5, 3), np.uint8)
    bgr[1, 2] = (10, 20, 200)  # OpenCV writes BGR: this pixel is red
    path = tmp_path / "scene.png"
    assert cv2.imwrite(str(path), bgr)
    beauty = read_beauty(path)
    assert beauty.image[1, 2].tolist() == [200, 20, 10]


def test_unreadable_renders_are_refused_with_the_file_name(tmp_path):
    fake = tmp_path / "scene.png"
    fake.write_bytes(b"not a png")
    with pytest.raises(DepthReadError, match=r"^scene.png: not a readable PNG or JPEG image$"):
        read_beauty(fake)
    with pytest.raises(DepthReadError, match="scene.tif: a render must be an EXR Beauty canvas or a PNG or JPEG"):
        read_beauty(tmp_path / "scene.tif")
