"""Canvas sets in the session layer: the files of one render become one entry named by its scene, parts dropped
later join it, the normal and beauty previews show the outputs' colours, Save writes the set whole or not at all,
bad parts are named by the name the user knows."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from daz_depthmap.canvas.normals.options import NormalOptions
from daz_depthmap.exr import DepthReadError
from daz_depthmap.session.batch import write_shown
from daz_depthmap.session.canvas_set import beauty_preview, normal_preview
from daz_depthmap.session.view import file_info
from daz_depthmap.session.workspace import Workspace
from tests.synthetic import Sphere, render_canvases, write_depth_exr, write_vectors_exr

FACING = [128, 128, 255]


@pytest.fixture
def ball(tmp_path: Path) -> dict[str, Path]:
    """A sphere's Depth and Normal canvases, a Beauty canvas and the render image, as DAZ Studio names them."""
    scene = render_canvases(121, 121, (Sphere((0.0, 0.0, -300.0), 60.0),))
    files = {
        "depth": tmp_path / "ball-Canvas1-Depth.exr",
        "normal": tmp_path / "ball-Canvas2-Normal.exr",
        "beauty": tmp_path / "ball-Canvas3-Beauty.exr",
        "render": tmp_path / "ball.png",
    }
    write_depth_exr(files["depth"], scene.depth)
    write_vectors_exr(files["normal"], scene.normals, half=True)
    colour = np.zeros((121, 121, 3), np.float32)
    colour[..., 0] = np.where(np.isfinite(scene.depth), 0.8, 0.05)  # a red ball on a dark backdrop
    write_vectors_exr(files["beauty"], colour)
    render = np.zeros((121, 121, 3), np.uint8)
    render[np.isfinite(scene.depth)] = (0, 200, 0)  # BGR: a green ball
    cv2.imwrite(str(files["render"]), render)
    return files


def test_a_render_becomes_one_entry_named_by_its_scene(ball, tmp_path):
    ws = Workspace()
    result = ws.load([ball["normal"], ball["depth"], ball["render"]])
    assert result.loaded == ["ball"] and not result.errors
    shown = ws.require_shown()
    assert shown.parts.scene == "ball" and shown.stem == "ball"
    assert shown.parts.normal is not None and shown.parts.beauty is not None
    assert shown.parts.beauty.name == "ball.png"  # the render image before the Beauty canvas
    assert "Depth · Normal · Beauty (render image)" in file_info(shown)
    preview = normal_preview(shown.file, shown.parts, shown.normal, shown.previews)
    centre = preview.image.shape[0] // 2
    assert preview.image[centre, centre].tolist() == FACING and "camera space" in preview.summary
    picture = beauty_preview(shown.file, shown.parts, shown.previews)
    assert picture is not None and picture[centre, centre].tolist() == [0, 200, 0]  # RGB order
    written = write_shown(shown, tmp_path / "out", ws.protected())
    assert sorted(p.name for p in written) == ["ball.depth.png", "ball.normal.png"]  # the render is not rewritten
    normal = cv2.imread(str(tmp_path / "out" / "ball.normal.png"))[..., ::-1]
    np.testing.assert_array_equal(normal[np.ix_(shown.file.rows, shown.file.cols)], preview.image)


def test_options_change_the_normal_preview_and_a_beauty_canvas_is_converted(ball, tmp_path):
    ws = Workspace()
    ws.load([ball["depth"], ball["normal"], ball["beauty"]])
    shown = ws.set_normal_options(NormalOptions(convention="sd15", background="black"))
    preview = normal_preview(shown.file, shown.parts, shown.normal, shown.previews)
    centre = preview.image.shape[0] // 2
    assert preview.image[centre, centre].tolist() == [255, 128, 128] and preview.image[0, 0].tolist() == [0, 0, 0]
    written = write_shown(shown, tmp_path / "out", ws.protected())
    assert sorted(p.name for p in written) == ["ball.beauty.png", "ball.depth.png", "ball.normal.png"]
    beauty = cv2.imread(str(tmp_path / "out" / "ball.beauty.png"))[..., ::-1]
    assert beauty[60, 60, 0] == 255 and beauty[60, 60, 1] == 0  # the red ball, exposed to white, sRGB


def test_a_normal_canvas_dropped_later_joins_its_set(ball):
    ws = Workspace()
    ws.load([ball["depth"]])
    assert not ws.require_shown().has_normals
    result = ws.load([(ball["normal"], "ball-Canvas2-Normal.exr")])
    assert result.loaded == [] and result.joined == ["ball-Canvas2-Normal.exr → ball"] and not result.errors
    assert ws.require_shown().parts.normal is not None


def test_parts_without_their_depth_and_stray_files_are_said(ball, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    result = Workspace().load([ball["normal"], notes])
    assert result.loaded == []
    assert result.errors[0].startswith("ball: no Depth canvas among the files (ball-Canvas2-Normal.exr)")
    assert result.errors[1].startswith("notes.txt: not an EXR, PNG or JPEG file")


def test_normals_from_the_depth_without_a_normal_canvas(ball):
    ws = Workspace()
    ws.load([ball["depth"]])
    shown = ws.require_shown()
    with pytest.raises(ValueError, match="no Normal canvas in this set: tick 'Normals from the depth'"):
        normal_preview(shown.file, shown.parts, shown.normal, shown.previews)
    shown = ws.set_normal_options(NormalOptions(from_depth=True))
    preview = normal_preview(shown.file, shown.parts, shown.normal, shown.previews)
    assert preview.image[60, 60].tolist() == FACING and "normals from the depth" in preview.summary


def test_a_bad_normal_canvas_is_named_as_uploaded_and_nothing_of_the_set_is_written(ball, tmp_path):
    one = tmp_path / "upload-tmp-7"
    write_depth_exr(one, np.ones((121, 121), np.float32))
    ws = Workspace()
    ws.load([(ball["depth"], "ball-Canvas1-Depth.exr"), (one, "ball-Canvas2-Normal.exr")])
    shown = ws.require_shown()
    with pytest.raises(DepthReadError, match=r"^ball-Canvas2-Normal\.exr: has one channel \(Y\)"):
        normal_preview(shown.file, shown.parts, shown.normal, shown.previews)
    with pytest.raises(DepthReadError, match="needs three"):
        write_shown(shown, tmp_path / "out", ws.protected())
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
