"""One job for every front end: a canvas set mapped by the command line, the HTTP API and the tab's Save gives the
same bytes for every output each of them writes (depth, mask, region map; normal map and beauty where the front end
makes them), because all three build a :class:`~daz_depthmap.render.job.Job` and run it the same way."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pytest

from daz_depthmap.bands.spec import parse_band_spec
from daz_depthmap.cli.main import main
from daz_depthmap.http.api import convert, map_job
from daz_depthmap.params import DepthParams
from daz_depthmap.render.job import Job, JobFiles, Source, run_job
from daz_depthmap.session.banding import BandSettings, LevelMode
from daz_depthmap.session.batch import write_shown
from daz_depthmap.session.workspace import Workspace
from tests.synthetic import figure_scene, render_canvases, write_depth_exr, write_vectors_exr

CUTOFF = 450.0


@pytest.fixture(scope="module")
def canvas_set(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], str]:
    """A render's Depth, Normal and Beauty canvases, and a band spec that splits its two solids (levels locked, a
    region each)."""
    folder = tmp_path_factory.mktemp("set")
    scene = render_canvases(121, 161, figure_scene(), supersample=2)
    files = [
        folder / "scene-Canvas2-Depth.exr",
        folder / "scene-Canvas3-Normal.exr",
        folder / "scene-Canvas1-Beauty.exr",
    ]
    write_depth_exr(files[0], scene.depth)
    write_vectors_exr(files[1], scene.normals, half=True)
    write_vectors_exr(files[2], np.abs(scene.normals) * 3.0, half=True)
    subject = scene.depth[np.isfinite(scene.depth) & (scene.depth < CUTOFF)]
    split = float(np.median(subject))
    return files, f"{split:.3f}:150:front@0,*:106:back@1"


def outputs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_the_command_line_the_api_and_the_tab_write_the_same_bytes(canvas_set, tmp_path: Path):
    files, spec = canvas_set
    cli_out = tmp_path / "cli"
    args = [*map(str, files), "--depth_cutoff", str(CUTOFF), "--mask", "--bands", spec, "--regions", "--normal"]
    assert main([*args, "--out_dir", str(cli_out), "-q"], out=io.StringIO(), err=io.StringIO()) == 0
    by_cli = outputs(cli_out)
    assert sorted(by_cli) == [f"scene.{part}.png" for part in ("beauty", "depth", "mask", "normal", "regions")]

    ws = Workspace(DepthParams(depth_cutoff=CUTOFF, mask=True))
    assert ws.load(files).loaded == ["scene"]
    shown = ws.set_bands(BandSettings(parse_band_spec(spec), LevelMode.MANUAL))
    tab_out = tmp_path / "tab"
    write_shown(shown, tab_out, ws.protected())
    assert outputs(tab_out) == by_cli

    request = map_job(
        {"name": files[0].name, "options": {"depth_cutoff": CUTOFF, "mask": True}, "bands": spec, "regions": True}
    )
    reply = convert(files[0], request)
    for key, part in (("depth_map", "depth"), ("mask", "mask"), ("regions", "regions")):
        assert base64.b64decode(reply[key]) == by_cli[f"scene.{part}.png"], key


def test_a_set_is_made_whole_or_not_at_all(canvas_set, tmp_path: Path):
    files, _ = canvas_set
    small = tmp_path / "scene-Canvas1-Beauty.exr"
    write_vectors_exr(small, np.ones((30, 40, 3), np.float32))
    job = Job(DepthParams(mask=True))
    parts = JobFiles(Source(files[0]), Source(files[1]), Source(small, "my beauty.exr"), "scene")
    with pytest.raises(Exception, match=r"my beauty\.exr: the Beauty canvas is 40x30 pixels but the Depth canvas"):
        run_job(parts, job)
