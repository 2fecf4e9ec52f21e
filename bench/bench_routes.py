"""Benchmark of the HTTP routes (issue 11): what one live preview update costs the server through the preview route
and through gradio's event, and what the API's conversion costs.

    .venv/bin/python bench/bench_routes.py [--size 4096] [--runs 40]

In-process, through a real ASGI stack (FastAPI's test client), on a DAZ-like 4096² EXR:

* the preview route: ``POST /daz-depthmap/v1/preview`` (the live update, its PNG, the binary answer), whole
  request, best and median;
* gradio's event path, server side only: the tab's live handler (the same live update) plus the PNG encoding of
  gradio 3's Image output (Pillow, as gradio encodes a numpy preview) — without gradio's queue, its JSON and the
  page's work per update, which the browser tests measure (``tests/webui/test_live_browser.py``, ``-s``);
* the API: ``POST /daz-depthmap/v1/depth-map`` with the EXR as base64 JSON and as multipart, and ``…/histogram``;
  the size of the answer.
"""

from __future__ import annotations

import argparse
import base64
import io
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fastapi import FastAPI  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from daz_depthmap.http.routes import PREFIX, ApiAccess, build_router  # noqa: E402
from daz_depthmap.params import DepthParams  # noqa: E402
from daz_depthmap.session.live import live_update  # noqa: E402
from daz_depthmap.session.store import SessionStore  # noqa: E402
from daz_depthmap.session.workspace import Workspace  # noqa: E402
from tests.synthetic import daz_like_depth, write_depth_exr  # noqa: E402


def timed(label: str, runs: int, work: Callable[[int], object]) -> float:
    times = []
    for i in range(runs):
        started = time.perf_counter()
        work(i)
        times.append((time.perf_counter() - started) * 1000)
    median = statistics.median(times)
    print(f"  {label:<58} best {min(times):8.2f} ms  median {median:8.2f} ms")
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    from PIL import Image

    with tempfile.TemporaryDirectory() as folder:
        exr = Path(folder) / "scene.exr"
        write_depth_exr(exr, daz_like_depth(args.size, args.size), half=True)
        store = SessionStore(lambda: Workspace(DepthParams(depth_cutoff="auto")), root=Path(folder) / "sessions")
        session = store.open(None).session
        session.workspace.load([exr])
        shown = session.workspace.require_shown()
        app = FastAPI()
        app.include_router(build_router(lambda: store, ApiAccess(True)))
        client = TestClient(app)
        print(f"{args.size}x{args.size} DAZ-like EXR ({exr.stat().st_size / 2**20:.1f} MB), preview copy "
              f"{'x'.join(map(str, shown.render_preview().picture.shape[::-1]))}")  # fmt: skip

        def request(i: int) -> dict[str, object]:
            return {"seq": i, "key": shown.file.key, "view": shown.view, "far": 230.0 + (i % 40), "near": None}

        print("\n== one live preview update, server side")
        route = timed(
            "preview route (whole HTTP request, PNG included)",
            args.runs,
            lambda i: client.post(f"{PREFIX}/preview", json={**request(i), "session": session.token}).content,
        )

        def gradio_side(i: int) -> None:
            update = live_update(session.workspace, request(i))
            assert update.preview is not None
            buffer = io.BytesIO()
            Image.fromarray(update.preview.picture).save(buffer, "PNG")  # gradio 3's Image output

        gradio = timed("live handler + gradio's PNG (no queue, no page work)", args.runs, gradio_side)
        mapped = timed(
            "the live update alone (map the preview)", args.runs, lambda i: live_update(session.workspace, request(i))
        )
        body = client.post(f"{PREFIX}/preview", json={**request(0), "session": session.token}).content
        print(f"  answer: {len(body) / 1024:.0f} KiB; route/gradio server side {route / gradio:.2f}x; "
              f"mapping {mapped:.1f} ms of it")  # fmt: skip

        print("\n== the API (one conversion at a time)")
        data = exr.read_bytes()
        encoded = base64.b64encode(data).decode()
        runs = max(3, args.runs // 8)
        timed("depth-map, base64 JSON", runs, lambda i: client.post(f"{PREFIX}/depth-map", json={"image": encoded}))
        timed("depth-map, multipart",runs,
              lambda i: client.post(f"{PREFIX}/depth-map", files={"file": ("scene.exr", data)}))  # fmt: skip
        timed("histogram, base64 JSON", runs, lambda i: client.post(f"{PREFIX}/histogram", json={"image": encoded}))
        answer = client.post(f"{PREFIX}/depth-map", json={"image": encoded}).content
        print(f"  request {len(encoded) / 2**20:.1f} MB of base64; answer {len(answer) / 2**20:.1f} MB of JSON")
        store.close()


if __name__ == "__main__":
    main()
