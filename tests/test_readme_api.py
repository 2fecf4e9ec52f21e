"""The README's Python example of the HTTP API, run as a user would run it: against a server with our routes and a
stand-in of the WebUI's ``/sdapi/v1/txt2img`` that checks what ControlNet's unit would receive."""

from __future__ import annotations

import base64
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from fastapi import FastAPI

from daz_depthmap.http.routes import ApiAccess, build_router
from tests.test_routes import served

REPO_ROOT = Path(__file__).resolve().parent.parent
F32 = "synthetic_daz_Y_f32_zip_1200.exr"


def readme_example() -> str:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## HTTP API for scripts", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1, "the README's API section has one Python example"
    return blocks[0]


@pytest.fixture
def server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []
    app = FastAPI()
    app.include_router(build_router(lambda: None, ApiAccess(True)))

    @app.post("/sdapi/v1/txt2img")
    def txt2img(body: dict[str, Any]) -> dict[str, Any]:  # what the WebUI hands ControlNet, and an image back
        received.append(body)
        image = np.full((body["height"], body["width"], 3), 127, np.uint8)
        return {"images": [base64.b64encode(cv2.imencode(".png", image)[1].tobytes()).decode()]}

    with served(app) as url:
        yield url, received


def test_the_readmes_python_example_converts_and_generates(server, shared_exr_dir: Path, tmp_path: Path):
    url, received = server
    script = tmp_path / "example.py"
    script.write_text(readme_example(), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(script), str(shared_exr_dir / F32)],
        cwd=tmp_path,
        env={"WEBUI": url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "window" in proc.stdout and (tmp_path / "txt2img.png").stat().st_size > 0
    (body,) = received
    (unit,) = body["alwayson_scripts"]["controlnet"]["args"]
    assert unit["enabled"] is True and unit["module"] == "none"
    depth = cv2.imdecode(np.frombuffer(base64.b64decode(unit["image"]), np.uint8), cv2.IMREAD_UNCHANGED)
    assert depth.shape == (1200, 1200) and depth.dtype == np.uint8
    assert depth[0, 0] == 0 and depth.max() == 255  # the backdrop black, the nearest point white
