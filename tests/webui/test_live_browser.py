"""The live preview in a WebUI-sized page (the stand-in WebUI with the WebUI's gradio and FastAPI pins, its queue
and a page of about 2000 blocks, as AUTOMATIC1111 1.10.1 builds it), in Chromium: the preview route against
gradio's event path, at 4096².

Each test prints the slider-to-preview latencies (``[latency] ...``, shown with ``pytest -s``): a move of the
slider to the new preview on the page, measured by the page's own live path.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import standin_webui
from playwright.sync_api import Page, expect, sync_playwright
from test_send_browser import _serve
from webui_helpers import WebUI, in_own_thread

from tests.chromium import CHROMIUM, CHROMIUM_ARGS, shown_picture
from tests.synthetic import daz_like_depth, write_depth_exr

P = "daz_depthmap"
NUMBER = f"#{P}_cutoff input[type=number]"
RANGE = f"#{P}_cutoff input[type=range]"
PREVIEW = f"#{P}_preview_depth img"
#: The page of a default WebUI 1.10.1 start: ~2000 blocks in its other tabs (10 blocks a filler unit).
WEBUI_FILLER = 200


@pytest.fixture
def big_page(webui: WebUI, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, standin_webui.Page]]:
    yield from _serve(webui, monkeypatch, units=1, filler=WEBUI_FILLER)


@pytest.fixture(scope="module")
def big_exr(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "scene_4096.exr"
    write_depth_exr(path, daz_like_depth(4096, 4096), half=True)
    return path


@pytest.mark.browser
@pytest.mark.parametrize("route", [True, False], ids=["route", "gradio"])
def test_slider_to_preview_in_a_webui_sized_page(big_page: tuple[str, Any], big_exr: Path, route: bool) -> None:
    url, _ = big_page
    result = in_own_thread(_drive, url, big_exr, route)
    kind = "preview route" if route else "gradio event (route disabled)"
    print(
        f"\n[latency] WebUI stand-in ({WEBUI_FILLER * 10}+ blocks), 4096x4096 through the {kind}: "
        f"{result['count']} previews; slider move to preview shown: median {result['median']:.0f} ms, "
        f"p90 {result['p90']:.0f} ms; round trip median {result['trip']:.0f} ms; server {result['server']:.1f} ms"
    )
    assert result["count"] >= 10


def _drive(url: str, exr: Path, route: bool) -> dict[str, float]:
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/])"), lambda r: r.fulfill(status=200, body=""))
        if not route:  # as a server without the route answers
            page.route("**/daz-depthmap/v1/preview", lambda r: r.fulfill(status=404, body='{"detail":"Not Found"}'))
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(url)
        page.get_by_role("button", name="DAZ Depth").click()
        page.set_input_files(f"#{P}_upload input[type=file]", str(exr))
        expect(page.locator(PREVIEW)).to_be_visible(timeout=60_000)
        page.locator(f"#{P}_save").click()  # a Save: the downloads must go once the cutoff moves
        expect(page.locator(f"#{P}_depth_file a")).to_be_visible(timeout=30_000)
        _drag(page, 300)
        _drag(page, 230)
        if route:
            page.wait_for_function(
                f"() => {{ const s = dazDepthmap.live.status('{P}'); return !s.inFlight && !s.dirty; }}"
            )
            assert page.get_attribute(PREVIEW, "src").startswith("blob:")
            via_route = shown_picture(page, PREVIEW)
        page.wait_for_function(
            f"""() => {{ const s = dazDepthmap.live.status('{P}');
                return !dazDepthmap.live.busy('{P}') && s.lastReply &&
                    Math.abs(s.lastReply.far - parseFloat(document.querySelector('{NUMBER}').value)) < 1e-6; }}""",
            timeout=30_000,
        )
        settled = shown_picture(page, PREVIEW)
        if route:  # no stale frame after the last move: gradio then shows the route's last picture, level for level
            assert np.array_equal(via_route, settled)
            assert not page.get_attribute(PREVIEW, "src").startswith("blob:")
        expect(page.locator(f"#{P}_depth_file a")).to_have_count(0)  # the earlier Save's download is stale
        lat = page.evaluate(f"() => dazDepthmap.live.latencies('{P}')")
        browser.close()
    assert errors == []
    total = sorted(entry["ms"] for entry in lat)
    return {
        "count": len(total),
        "median": statistics.median(total),
        "p90": total[int(0.9 * (len(total) - 1))],
        "trip": statistics.median(entry["round_trip_ms"] for entry in lat),
        "server": statistics.median(entry["server_ms"] for entry in lat),
    }


def _drag(page: Page, target: float, steps: int = 40) -> None:
    """Drag the slider's thumb to ``target``, one mouse move per 60 Hz frame."""
    box = page.locator(RANGE).bounding_box()
    low, high = (float(page.get_attribute(RANGE, name)) for name in ("min", "max"))

    def x_of(value: float) -> float:
        return box["x"] + 8 + (value - low) / (high - low) * (box["width"] - 16)

    y = box["y"] + box["height"] / 2
    start = x_of(float(page.input_value(NUMBER)))
    page.mouse.move(start, y)
    page.mouse.down()
    for step in range(1, steps + 1):
        page.mouse.move(start + (x_of(target) - start) * step / steps, y)
        page.wait_for_timeout(16)
    page.mouse.up()
