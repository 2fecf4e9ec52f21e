"""The tab in a real browser: upload, histogram, live preview, picking, mask, download, errors, isolation.

One app and one page with the 1200x1200 DAZ-like file are shared by the tests of this module, in order (each
test leaves the page usable for the next). Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import itertools
import re
import statistics
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from daz_depthmap.exr import read_depth
from tests.chromium import shown_picture

pytestmark = pytest.mark.browser

P = "daz_depthmap"
FILE = "synthetic_daz_Y_f32_zip_1200.exr"
RANGE = f"#{P}_cutoff input[type=range]"
NUMBER = f"#{P}_cutoff input[type=number]"
PREVIEW = f"#{P}_preview_depth img"
MASK_PREVIEW = f"#{P}_preview_mask img"


# --------------------------------------------------------------------------------------------------------------
# Helpers


def cutoff(page) -> float:
    return float(page.input_value(NUMBER))


def wait_preview_settled(page, timeout: float = 20_000) -> dict:
    """Wait until no live request is pending or on its way and the last answer is for the shown cutoff."""
    page.wait_for_function(
        """([p, sel]) => {
            const s = dazDepthmap.live.status(p);
            if (dazDepthmap.live.busy(p) || !s.lastReply) return false;
            const shown = parseFloat(document.querySelector(sel).value);
            return Math.abs(s.lastReply.far - shown) < 1e-6 * Math.max(1, Math.abs(shown));
        }""",
        arg=[P, NUMBER],
        timeout=timeout,
    )
    return page.evaluate("(p) => dazDepthmap.live.status(p).lastReply", P)


def wait_picture_replaced(page, before: str, selector: str = PREVIEW, timeout: float = 20_000) -> None:
    """Wait until the ``<img>`` shows another source than ``before`` and has loaded it (gradio 4 sets the source of
    an update a moment after the update itself)."""
    page.wait_for_function(
        "([sel, before]) => { const img = document.querySelector(sel); "
        "return img && img.src !== before && img.complete && img.naturalWidth > 0; }",
        arg=[selector, before],
        timeout=timeout,
    )


def preview(page, selector: str = PREVIEW) -> np.ndarray:
    """The picture the preview shows now: gradio's (a data URL in gradio 3, a served file in gradio 4) or the
    preview route's (a blob URL), whichever is there."""
    return shown_picture(page, selector)


def drag_slider(page, target: float, steps: int = 30) -> int:
    """Drag the cutoff slider's thumb to ``target`` with the mouse; returns how many input events fired."""
    page.evaluate(
        """(sel) => { const r = document.querySelector(sel); window.__dazdmInputs = 0;
           r.addEventListener('input', () => { window.__dazdmInputs += 1; }); }""",
        RANGE,
    )
    box = page.locator(RANGE).bounding_box()
    low, high = (float(page.get_attribute(RANGE, name)) for name in ("min", "max"))

    def x_of(value: float) -> float:
        thumb = 16  # the thumb's width: its centre travels over the track minus one thumb
        return box["x"] + thumb / 2 + (value - low) / (high - low) * (box["width"] - thumb)

    y = box["y"] + box["height"] / 2
    start = x_of(cutoff(page))
    page.mouse.move(start, y)
    page.mouse.down()
    for step in range(1, steps + 1):  # a hand's drag: one move per frame (60 Hz)
        page.mouse.move(start + (x_of(target) - start) * step / steps, y)
        page.wait_for_timeout(16)
    page.mouse.up()
    return page.evaluate("() => window.__dazdmInputs")


def expected_nonblack_share(depth: np.ndarray, valid: np.ndarray, far: float, near: float) -> float:
    """Share of pixels a linear map with this window leaves above black (level >= 1 after rounding)."""
    limit = far - 0.5 * (far - near) / 255
    return float(np.count_nonzero(valid & (depth <= limit))) / depth.size


def report_latency(page, label: str) -> None:
    lat = page.evaluate("(p) => dazDepthmap.live.latencies(p)", P)
    if not lat:
        print(f"\n[latency] {label}: no live requests recorded")
        return
    total = [entry["ms"] for entry in lat]
    trip = [entry["round_trip_ms"] for entry in lat]
    server = [entry["server_ms"] for entry in lat if entry.get("server_ms") is not None]
    print(
        f"\n[latency] {label}: {len(total)} live previews; slider move to preview shown: median "
        f"{statistics.median(total):.0f} ms, max {max(total):.0f} ms; request round trip median "
        f"{statistics.median(trip):.0f} ms; workspace handler median {statistics.median(server):.1f} ms"
    )


# --------------------------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def truth(shared_exr_dir: Path):
    image = read_depth(shared_exr_dir / FILE)
    return image.depth, image.valid


@pytest.fixture(scope="module")
def page(browser, app, open_tab, decode_data_url, shared_exr_dir: Path, artifacts: Path):
    """One page with the 1200x1200 file uploaded."""
    page = open_tab(browser, app)
    page.decode = decode_data_url
    page.screenshot(path=str(artifacts / "tab_empty.png"))
    page.set_input_files(f"#{P}_upload input[type=file]", str(shared_exr_dir / FILE))
    page.wait_for_selector(PREVIEW, timeout=30_000)
    yield page
    assert not page.errors, f"JavaScript errors on the page: {page.errors}"
    page.close()


# --------------------------------------------------------------------------------------------------------------
# Tests, in the order a user works


def test_upload_shows_file_info_histogram_and_preview(page, artifacts: Path):
    assert page.locator(f"#{P}_files label").all_inner_texts() == [FILE]
    info = page.inner_text(f"#{P}_info")
    assert "1200 × 1200 px" in info and "channel Y" in info and "background px" in info
    data = page.evaluate("(p) => dazDepthmap.viewOf(p)", P)
    assert data["key"] == FILE and len(data["counts"]) >= 256
    assert 598 < data["farthest"] < 610 and 169 < data["nearest"] < 171
    # the canvas really has bars: many opaque pixels
    painted = page.evaluate(
        """(sel) => { const c = document.querySelector(sel);
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; }""",
        f"#{P} .dazdm-histo-canvas",
    )
    assert painted > 2000
    # the suggested cutoff is the starting point and is offered as a button
    assert data["suggestion"] is not None and 250 < data["suggestion"] < 290
    assert cutoff(page) == pytest.approx(data["suggestion"], abs=data["step"])
    assert "Use suggestion" in page.inner_text(f"#{P} .dazdm-use-suggestion")
    page.screenshot(path=str(artifacts / "tab_loaded.png"))


def test_slider_drag_updates_preview_as_the_cutoff_says(page, truth, artifacts: Path):
    depth, valid = truth
    nearest = float(depth[valid].min())
    events = drag_slider(page, 290)
    far_a = cutoff(page)
    wait_preview_settled(page)
    before, before_src = preview(page), page.get_attribute(PREVIEW, "src")
    events += drag_slider(page, 235)
    far_b = cutoff(page)
    reply = wait_preview_settled(page)
    wait_picture_replaced(page, before_src)
    after = preview(page)
    page.screenshot(path=str(artifacts / "tab_after_drag.png"))
    report_latency(page, f"1200x1200, {events} slider input events")
    sent = page.evaluate("(p) => dazDepthmap.live.status(p).seq", P)
    print(f"[latency] {events} slider input events became {sent} preview requests")

    assert 280 < far_a < 300 and 225 < far_b < 245
    assert reply["far"] == pytest.approx(far_b)
    assert before.shape == after.shape and max(after.shape) <= 1024
    # the backdrop (top-left corner) stays black
    assert before[:40, :40].max() == 0 and after[:40, :40].max() == 0
    # the share of non-black pixels is what the cutoff says, at both positions
    for image, far in ((before, far_a), (after, far_b)):
        share = float(np.count_nonzero(image)) / image.size
        assert share == pytest.approx(expected_nonblack_share(depth, valid, far, nearest), abs=0.01)
    # a nearer far cutoff: the subject's far parts turn black, everything that stays lit gets darker
    lit = (before > 0) & (after > 0)
    assert np.count_nonzero(after) < np.count_nonzero(before)
    assert np.all(after[lit].astype(int) <= before[lit].astype(int) + 1)
    assert after[lit].mean() < before[lit].mean() - 2
    # the nearest pixel stays white
    assert after.max() == 255


def test_histogram_click_sets_the_cutoff_to_the_clicked_depth(page, artifacts: Path):
    canvas = page.locator(f"#{P} .dazdm-histo-canvas")
    box = canvas.bounding_box()
    geo = page.evaluate("(sel) => ({...document.querySelector(sel).dataset})", f"#{P} .dazdm-histo-canvas")
    lo, hi, left, width = (float(geo[k]) for k in ("lo", "hi", "plotLeft", "plotWidth"))
    target = 250.0
    page.mouse.click(box["x"] + left + (target - lo) / (hi - lo) * width, box["y"] + box["height"] * 0.6)
    per_pixel = (hi - lo) / width
    assert cutoff(page) == pytest.approx(target, abs=per_pixel + 0.5)
    step = float(page.get_attribute(RANGE, "step"))
    assert float(page.input_value(RANGE)) == pytest.approx(cutoff(page), abs=step)  # the slider follows
    reply = wait_preview_settled(page)
    assert reply["far"] == pytest.approx(cutoff(page))
    # hovering tells depth and pixel share
    page.mouse.move(box["x"] + left + (200 - lo) / (hi - lo) * width, box["y"] + box["height"] * 0.5)
    tip = page.inner_text(f"#{P} .dazdm-tip")
    assert re.search(r"depth 19\d|depth 20\d", tip) and "% of pixels" in tip
    page.screenshot(path=str(artifacts / "tab_histogram_hover.png"))
    # typing a near cutoff goes the same live way; shift-dragging on the histogram moves it
    page.fill(f"#{P}_near input", "200")
    assert wait_preview_settled(page)["near"] == pytest.approx(200)
    page.keyboard.down("Shift")
    page.mouse.click(box["x"] + left + (190 - lo) / (hi - lo) * width, box["y"] + box["height"] * 0.6)
    page.keyboard.up("Shift")
    assert float(page.input_value(f"#{P}_near input")) == pytest.approx(190, abs=per_pixel + 0.5)
    assert wait_preview_settled(page)["near"] == pytest.approx(float(page.input_value(f"#{P}_near input")))
    page.fill(f"#{P}_near input", "")
    assert wait_preview_settled(page)["near"] < 171  # empty: the nearest depth
    # the log toggle redraws without errors, and "Use suggestion" puts the suggestion back
    page.click(f"#{P} .dazdm-log")
    page.click(f"#{P} .dazdm-log")
    suggestion = page.evaluate("(p) => dazDepthmap.viewOf(p).suggestion", P)
    page.click(f"#{P} .dazdm-use-suggestion")
    assert cutoff(page) == pytest.approx(suggestion, abs=1e-6)
    assert wait_preview_settled(page)["far"] == pytest.approx(suggestion, abs=1e-6)


def test_preview_click_reads_the_depth_and_sets_the_cutoff_there(page, truth, artifacts: Path):
    depth, _ = truth
    image = page.locator(PREVIEW)
    box = image.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # the torso
    page.wait_for_selector(f"#{P}_pick_far", state="visible")
    text = page.inner_text(f"#{P}_pick")
    found = re.search(r"Pixel \((\d+), (\d+)\): depth ([\d.]+)", text)
    assert found, text
    x, y, picked = int(found[1]), int(found[2]), float(found[3])
    assert abs(x - 600) <= 2 and abs(y - 600) <= 2
    assert picked == pytest.approx(float(depth[y, x]), rel=1e-5)
    page.click(f"#{P}_pick_far")  # gradio 4 runs the button's client function after the click, not in it
    page.wait_for_function(
        "([sel, v]) => Math.abs(parseFloat(document.querySelector(sel).value) - v) <= 1e-5 * v",
        arg=[NUMBER, picked],
        timeout=5_000,
    )
    assert cutoff(page) == pytest.approx(picked, rel=1e-5)
    reply = wait_preview_settled(page)
    assert reply["far"] == pytest.approx(picked, rel=1e-5)
    page.screenshot(path=str(artifacts / "tab_picked.png"))
    # back to the suggestion for the next tests
    page.click(f"#{P} .dazdm-use-suggestion")
    wait_preview_settled(page)


def test_mask_toggle_shows_the_mask_and_the_download_is_full_resolution(page, app, truth, png_reader, artifacts):
    depth, valid = truth
    assert not page.locator(MASK_PREVIEW).is_visible()
    page.click(f"#{P}_mask input")
    page.wait_for_selector(MASK_PREVIEW, state="visible")
    mask = preview(page, MASK_PREVIEW)
    assert set(np.unique(mask)) <= {0, 255}
    assert mask[:40, :40].max() == 0 and mask[mask.shape[0] // 2, mask.shape[1] // 2] == 255
    page.screenshot(path=str(artifacts / "tab_mask.png"))

    page.click(f"#{P}_save")
    link = page.locator(f"#{P}_depth_file a").first
    link.wait_for(timeout=30_000)
    with page.expect_download() as download:
        link.click()
    png = png_reader(download.value.path())
    assert png.shape == (1200, 1200) and png.dtype == np.uint8
    nearest = np.unravel_index(np.argmin(np.where(valid, depth, np.inf)), depth.shape)
    assert png[nearest] == 255  # near is white
    assert png[:40, :40].max() == 0  # the backdrop is black
    with page.expect_download() as download:
        page.locator(f"#{P}_mask_file a").first.click()
    mask_png = png_reader(download.value.path())
    assert mask_png.shape == (1200, 1200) and mask_png[600, 600] == 255 and mask_png[0, 0] == 0
    stem = FILE.removesuffix(".exr")
    assert (app.out_dir / f"{stem}.depth.png").is_file() and (app.out_dir / f"{stem}.mask.png").is_file()
    assert "Wrote" in page.inner_text(f"#{P}_status")
    page.click(f"#{P}_mask input")
    page.wait_for_selector(MASK_PREVIEW, state="hidden")


def saved_png(page, app, png_reader, click) -> np.ndarray:
    """Remove the current file's depth PNG, ``click()`` (which should save it), and decode the new one."""
    target = app.out_dir / f"{FILE.removesuffix('.exr')}.depth.png"
    target.unlink(missing_ok=True)
    click()
    for _ in range(150):  # up to 15 s: a save takes well under a second
        if target.is_file():
            break
        page.wait_for_timeout(100)
    assert target.is_file(), "the click on Save was lost: no PNG written"
    return png_reader(target)


@pytest.mark.parametrize("delay", [0, 150, 600])
def test_a_click_on_save_right_after_typing_a_seed_is_not_lost(page, app, png_reader, artifacts: Path, delay: int):
    """The press blurs the seed box (which sends the options); the release comes at once (a script), after a hand's
    150 ms, or after the options' answer has arrived: the click must land every time."""
    if not page.is_checked(f"#{P}_noise input"):
        page.click(f"#{P}_noise input")  # the seed box shows with Noise
    page.wait_for_selector(f"#{P}_seed input", state="visible")
    page.fill(f"#{P}_seed input", str(4242 + delay))
    png = saved_png(page, app, png_reader, lambda: page.click(f"#{P}_save", delay=delay))
    assert png.shape == (1200, 1200)
    if delay == 600:  # the last one: back to no noise for the next tests
        page.click(f"#{P}_noise input")
        page.wait_for_selector(f"#{P}_seed input", state="hidden")
    page.wait_for_function("(sel) => document.querySelector(sel).innerText.includes('Wrote')", arg=f"#{P}_status")
    page.screenshot(path=str(artifacts / f"tab_seed_then_save_{delay}ms.png"))


def test_a_refused_near_cutoff_stays_as_typed_in_red_with_the_reason(page, app, truth, png_reader):
    depth, valid = truth
    near_box = f"#{P}_near input"
    page.fill(near_box, "200")
    assert wait_preview_settled(page)["near"] == pytest.approx(200)
    far = cutoff(page)
    page.fill(near_box, "400")  # beyond the far cutoff: refused with a word, not silently undone
    page.wait_for_function(
        "(sel) => document.querySelector(sel).textContent.includes('near cutoff')", arg=f"#{P} .dazdm-histo-caption"
    )
    assert "⚠" in page.inner_text(f"#{P} .dazdm-histo-caption")
    page.wait_for_selector(f"#{P}_near[data-dazdm-error]", timeout=5_000)
    assert page.input_value(near_box) == "400" and page.get_attribute(near_box, "aria-invalid") == "true"
    reason = page.get_attribute(f"#{P}_near", "data-dazdm-error")
    assert "near cutoff" in reason
    shown = page.evaluate(  # the reason is on the page, under the box, and the box is red
        "(sel) => { const b = document.querySelector(sel); return {after: getComputedStyle(b, '::after').content, "
        "border: getComputedStyle(b.querySelector('input')).borderTopColor, "
        "plain: getComputedStyle(document.querySelector(sel.replace('_near', '_cutoff') + ' input[type=number]'))"
        ".borderTopColor}; }",
        f"#{P}_near",
    )
    assert "near cutoff" in shown["after"] and shown["border"] != shown["plain"]
    assert cutoff(page) == pytest.approx(far)
    page.fill(near_box, "200")  # a near cutoff that fits: the mark goes
    page.wait_for_selector(f"#{P}_near:not([data-dazdm-error])", timeout=10_000)
    assert wait_preview_settled(page)["near"] == pytest.approx(200)
    # what the inputs show is what Save writes: near cutoff 200 (white up to 200, greys behind)
    png = saved_png(page, app, png_reader, lambda: page.click(f"#{P}_save"))
    assert np.all(png[valid & (depth <= 199.5)] == 255)
    between = valid & (depth > 205) & (depth < far - 5)
    assert between.any() and png[between].max() < 255 and png[between].min() > 0
    page.fill(near_box, "")
    assert wait_preview_settled(page)["near"] < 171


def test_damaged_file_shows_a_message_and_the_loaded_file_stays_usable(page, app, tmp_path: Path, artifacts: Path):
    import cv2

    broken = tmp_path / "broken.exr"
    broken.write_bytes(cv2.imencode(".png", np.zeros((8, 8), np.uint8))[1].tobytes())
    page.set_input_files(f"#{P}_upload input[type=file]", str(broken))
    page.wait_for_function("(sel) => document.querySelector(sel).innerText.includes('broken.exr')", arg=f"#{P}_status")
    status = page.inner_text(f"#{P}_status")
    assert "not an OpenEXR file" in status and "PNG" in status and "Traceback" not in status
    page.screenshot(path=str(artifacts / "tab_damaged_file.png"))
    assert page.locator(f"#{P}_files label").all_inner_texts() == [FILE]
    before, before_src = preview(page), page.get_attribute(PREVIEW, "src")
    drag_slider(page, 260)
    wait_preview_settled(page)
    wait_picture_replaced(page, before_src)
    assert not np.array_equal(before, preview(page))
    # "Process all" writes the loaded file (with a progress bar while it runs)
    page.click(f"#{P}_process_all")
    page.wait_for_function(
        "(sel) => document.querySelector(sel).innerText.includes('Wrote')", arg=f"#{P}_status", timeout=30_000
    )
    assert "1 of 1 files" in page.inner_text(f"#{P}_status")


def test_two_pages_do_not_share_files(page, browser, app, open_tab, shared_exr_dir: Path, artifacts: Path):
    other = open_tab(browser, app)
    try:
        assert other.locator(f"#{P}_files label").count() == 0
        assert other.is_visible(f"#{P} .dazdm-histo-empty")
        half = "synthetic_daz_Y_half_zip_1200.exr"
        other.set_input_files(f"#{P}_upload input[type=file]", str(shared_exr_dir / half))
        other.wait_for_selector(PREVIEW, timeout=30_000)
        assert other.locator(f"#{P}_files label").all_inner_texts() == [half]
        other.screenshot(path=str(artifacts / "tab_second_page.png"))
        # the first page's session still holds only its own file: its next preview is of that file
        page.bring_to_front()  # as the user goes back to it (a background tab's timers are throttled to 1 s)
        drag_slider(page, 270)
        assert wait_preview_settled(page)["key"] == FILE
        assert page.locator(f"#{P}_files label").all_inner_texts() == [FILE]
        assert not other.errors
    finally:
        other.close()


def test_dark_theme_screenshot(browser, app, open_tab, shared_exr_dir: Path, artifacts: Path):
    dark = open_tab(browser, app, "?__theme=dark")
    try:
        dark.set_input_files(f"#{P}_upload input[type=file]", str(shared_exr_dir / FILE))
        dark.wait_for_selector(PREVIEW, timeout=30_000)
        dark.click(f"#{P}_mask input")
        dark.wait_for_selector(MASK_PREVIEW, state="visible")
        dark.wait_for_timeout(300)
        dark.screenshot(path=str(artifacts / "tab_dark.png"))
        assert not dark.errors
    finally:
        dark.close()


@pytest.fixture(scope="module")
def big_exr(tmp_path_factory) -> Path:
    from tests.synthetic import daz_like_depth, write_depth_exr

    big = tmp_path_factory.mktemp("big") / "big_4096.exr"
    write_depth_exr(big, daz_like_depth(4096, 4096), half=True)
    return big


@pytest.mark.parametrize("route", [True, False], ids=["route", "gradio"])
def test_live_preview_on_a_4096_image_reports_latency(browser, app, open_tab, big_exr: Path, route: bool):
    page = open_tab(browser, app, preview_route=route)
    try:
        page.set_input_files(f"#{P}_upload input[type=file]", str(big_exr))
        page.wait_for_selector(PREVIEW, timeout=60_000)
        events = drag_slider(page, 300, steps=40)
        events += drag_slider(page, 230, steps=40)
        if route:  # the route's last picture, before gradio's own update replaces it
            page.wait_for_function(
                "(p) => { const s = dazDepthmap.live.status(p); return !s.inFlight && !s.dirty; }", arg=P
            )
            via_route = shown_picture(page, PREVIEW)
            assert page.get_attribute(PREVIEW, "src").startswith("blob:")
        reply = wait_preview_settled(page)
        assert reply["far"] == pytest.approx(cutoff(page))
        settled = shown_picture(page, PREVIEW)
        if route:  # no stale frame: the route's last picture is the one gradio then shows, level for level
            assert np.array_equal(via_route, settled)
            assert not page.get_attribute(PREVIEW, "src").startswith("blob:")  # gradio's: data URL (3), file (4)
        kind = "preview route" if route else "gradio event (route disabled)"
        report_latency(page, f"4096x4096 through the {kind}, {events} slider input events")
        sent = page.evaluate("(p) => dazDepthmap.live.status(p).seq", P)
        print(f"[latency] {events} slider input events became {sent} preview requests")
        assert not page.errors
    finally:
        page.close()


# --------------------------------------------------------------------------------------------------------------
# The live path against a slow server and across file switches


@pytest.mark.parametrize("route", [False, True], ids=["gradio", "route"])
def test_a_render_slower_than_the_watchdog_still_ends_on_the_newest_cutoff(
    browser, slow_app, open_tab, shared_exr_dir: Path, truth, png_reader, artifacts: Path, route: bool
):
    """A 280 render takes 5 s; the move to 240 made meanwhile is resent by the watchdog at 4 s and dropped by gradio
    (the event is still pending). The answer for 280 must put 240 back in the queue: the inputs said 240 while the
    server kept 280, and Save wrote 280. Through the preview route, the slow answer comes last and must not win."""
    depth, valid = truth
    page = open_tab(browser, slow_app, preview_route=route)
    try:
        page.set_input_files(f"#{P}_upload input[type=file]", str(shared_exr_dir / FILE))
        page.wait_for_selector(PREVIEW, timeout=30_000)
        page.fill(NUMBER, "280")  # slow
        page.wait_for_timeout(300)
        page.fill(NUMBER, "240")  # while 280 renders
        reply = wait_preview_settled(page, timeout=30_000)
        assert reply["far"] == pytest.approx(240)
        sent = page.evaluate("(p) => dazDepthmap.live.status(p).seq", P)
        assert sent >= 3, "the newest value went out again after the slow answer (gradio dropped the resend)"
        png = saved_png(page, slow_app, png_reader, lambda: page.click(f"#{P}_save"))
        behind = valid & (depth > 245) & (depth < 275)
        assert behind.any() and png[behind].max() == 0, "Save writes the cutoff the inputs show (240), not 280"
        page.screenshot(path=str(artifacts / f"tab_slow_render_{'route' if route else 'gradio'}.png"))
        assert not page.errors
    finally:
        page.close()


@pytest.mark.parametrize("route", [False, True], ids=["gradio", "route"])
def test_a_cutoff_on_its_way_when_the_page_switches_files_lands_nowhere(
    browser, app, open_tab, shared_exr_dir: Path, route: bool
):
    """A live request still travelling when the user picks another file used to set that file's cutoff."""
    half = "synthetic_daz_Y_half_zip_1200.exr"
    # gradio's client keeps the fetch it found at start: wrap it first, to make queue-less requests (the live
    # path's, and the preview route's) travel window.__delayPredict ms
    slow_network = """(() => { const real = window.fetch; window.__delayPredict = 0;
        window.fetch = async (url, options) => {
            const live = String(url).includes('/run/predict') || String(url).includes('/daz-depthmap/v1/preview');
            if (window.__delayPredict && live) {
                await new Promise((resolve) => setTimeout(resolve, window.__delayPredict));
            }
            return real(url, options);
        }; })();"""
    page = open_tab(browser, app, init_script=slow_network, preview_route=route)
    try:
        page.set_input_files(f"#{P}_upload input[type=file]", [str(shared_exr_dir / FILE), str(shared_exr_dir / half)])
        page.wait_for_selector(PREVIEW, timeout=30_000)
        first_far = cutoff(page)
        page.locator(f"#{P}_files label", has_text=half).click()  # show the second file, then back to the first
        page.wait_for_function("(p) => dazDepthmap.viewOf(p).key.startsWith('synthetic_daz_Y_half')", arg=P)
        half_far = cutoff(page)
        page.locator(f"#{P}_files label", has_text=FILE).click()
        page.wait_for_function("([p, k]) => dazDepthmap.viewOf(p).key === k", arg=[P, FILE])
        page.evaluate("() => { window.__delayPredict = 1500; }")  # the next live request travels 1.5 s
        page.fill(NUMBER, "233")
        page.wait_for_timeout(100)
        page.locator(f"#{P}_files label", has_text=half).click()  # the switch overtakes the request
        page.wait_for_timeout(3000)  # the request has arrived and been answered
        assert page.evaluate("(p) => dazDepthmap.viewOf(p).key", P) == half
        # what the server holds for each file shows when the page switches to it
        page.locator(f"#{P}_files label", has_text=FILE).click()
        page.wait_for_function("([p, k]) => dazDepthmap.viewOf(p).key === k", arg=[P, FILE])
        page.wait_for_timeout(300)
        assert cutoff(page) == pytest.approx(first_far), "the first file did not take it after the switch"
        page.locator(f"#{P}_files label", has_text=half).click()
        page.wait_for_function("([p, k]) => dazDepthmap.viewOf(p).key === k", arg=[P, half])
        page.wait_for_timeout(300)
        assert cutoff(page) == pytest.approx(half_far), "nor did the file shown when it arrived"
        assert not page.errors
    finally:
        page.close()


def test_uploads_are_kept_once_and_a_closed_page_releases_its_files(browser, app, open_tab, shared_exr_dir: Path):
    """gradio kept two copies of every upload (and an empty file) and never deleted any, nor any session's data."""
    page = open_tab(browser, app)
    before = set(app.uploads())
    try:
        page.set_input_files(f"#{P}_upload input[type=file]", str(shared_exr_dir / FILE))
        page.wait_for_selector(PREVIEW, timeout=30_000)
        # the page learns its session from the file view's change event, which gradio 4 runs after the update
        page.wait_for_function("(p) => dazDepthmap.viewOf(p)?.session", arg=P)
        mine = set(app.uploads()) - before
        assert len(mine) == 1 and next(iter(mine)).stat().st_size == (shared_exr_dir / FILE).stat().st_size
        assert not any(p.name == FILE for p in app.gradio_files()), "gradio's copies are gone"
        page.goto("about:blank")  # the page goes away: it tells the server
        for _ in range(50):
            if not mine & set(app.uploads()):
                break
            page.wait_for_timeout(100)
        assert not mine & set(app.uploads()), "the closed page's session and its upload were released"
    finally:
        page.close()


def test_close_cutoffs_keep_their_labels_apart_and_the_axis_has_round_ticks(page, artifacts: Path):
    """Close near and far lines printed "near 190far 240"; the axis read 169.901, 279.079."""
    far = cutoff(page)
    page.fill(f"#{P}_near input", str(round(far - 3, 1)))
    wait_preview_settled(page)
    page.wait_for_timeout(100)
    drawn = page.evaluate("(p) => dazDepthmap.histogramDraw.drawn(p)", P)
    (far_x, far_w), (near_x, near_w) = drawn["labels"]["far"], drawn["labels"]["near"]
    assert near_x + near_w <= far_x or far_x + far_w <= near_x, drawn["labels"]
    page.locator(f"#{P} .dazdm-histo").screenshot(path=str(artifacts / "tab_histogram_close_cutoffs.png"))
    labels = [tick["label"] for tick in drawn["ticks"]]
    assert len(labels) >= 3
    values = [float(label) for label in labels]
    steps = {round(b - a, 9) for a, b in itertools.pairwise(values)}
    assert len(steps) == 1, labels
    (step,) = steps
    mantissa = step / 10 ** np.floor(np.log10(step))
    assert round(mantissa, 6) in (1.0, 2.0, 5.0), labels
    assert all(abs(v / step - round(v / step)) < 1e-6 for v in values), labels
    page.fill(f"#{P}_near input", "")
    wait_preview_settled(page)


def _status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_saved_maps_reach_only_their_page_and_a_stopped_app_deletes_uploads_and_downloads(
    browser, own_app, open_tab, shared_exr_dir: Path
):
    """Stopped with SIGTERM (a service manager, `kill`), as with Ctrl+C, the app deletes what users uploaded and
    the download copies of their maps (issue 16, 9). The outputs folder, inside the working folder by default, is
    not served by gradio's file route to any client (issue 16, 7): a page downloads its own copies."""
    page = open_tab(browser, own_app)
    page.set_input_files(f"#{P}_upload input[type=file]", str(shared_exr_dir / FILE))
    page.wait_for_selector(PREVIEW, timeout=30_000)
    assert len(own_app.uploads()) == 1
    page.click(f"#{P}_save")
    link = page.locator(f"#{P}_depth_file a").first
    link.wait_for(timeout=30_000)
    saved = own_app.out_dir / f"{FILE.removesuffix('.exr')}.depth.png"
    assert saved.is_file() and own_app.out_dir.parent == own_app.out_dir.parent.resolve()
    href = link.get_attribute("href")
    assert href and _status_of(urllib.parse.urljoin(own_app.url, href)) == 200, href
    assert str(own_app.out_dir) not in urllib.parse.unquote(href)
    for named in (str(saved), f"outputs/{saved.name}"):  # absolute, and in the working folder (gradio 3 serves it)
        assert _status_of(f"{own_app.url}file={urllib.parse.quote(named)}") == 403, named
    copies = [p for p in own_app.gradio_files() if p.name == saved.name]
    assert len(copies) == 1
    own_app.process.terminate()  # the page stays open: nothing released the session before
    assert own_app.process.wait(timeout=30) == 0
    assert list(own_app.temp.glob("daz_depthmap-uploads-*")) == []
    assert not copies[0].exists(), "the page's download copy is deleted"
    assert saved.is_file(), "the saved map stays"
    page.close()
