"""Browser fixtures: the standalone app in a child process and Debian's Chromium driven by Playwright.

Never runs ``playwright install``: the browser is /usr/bin/chromium (``make chromium`` installs it). Requests that
leave the machine (gradio's page links a CDN script) are refused, so the tests run the same offline.
"""

from __future__ import annotations

import base64
import io
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.serving import free_port, wait_until_serving

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts"
PREFIX = "daz_depthmap"


class App:
    """A running standalone app: its URL, its output folder and its temporary folder."""

    def __init__(self, url: str, out_dir: Path, process: subprocess.Popen[bytes], log: Path, temp: Path) -> None:
        self.url = url
        self.out_dir = out_dir
        self.process = process
        self.log = log
        self.temp = temp

    def uploads(self) -> list[Path]:
        """The files the app's session store holds (one per upload of every live session)."""
        return sorted(p for p in self.temp.glob("daz_depthmap-uploads-*/*/*") if p.is_file())

    def gradio_files(self) -> list[Path]:
        """Files left in gradio's own temporary folder (its copies of uploads)."""
        return sorted(p for p in (self.temp / "gradio").rglob("*") if p.is_file())


def start_app(command: list[str]) -> Iterator[App]:
    """Run an app command (``python ARGS --port P --out-dir D``) until the generator is closed."""
    work = Path(tempfile.mkdtemp(prefix="dazdm-browser-"))
    port = free_port()
    out_dir = work / "outputs"
    log = work / "app.log"
    temp = work / "tmp"  # the app's temporary files (gradio's uploads, the session store's), to look at
    temp.mkdir()
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), GRADIO_ANALYTICS_ENABLED="False", TMPDIR=str(temp))
    env.pop("GRADIO_TEMP_DIR", None)
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, *command, "--port", str(port), "--out-dir", str(out_dir)],
            cwd=work,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_serving(url, process, 60, lambda: log.read_text(errors="replace"))
    except AssertionError as exc:
        process.kill()
        pytest.fail(str(exc), pytrace=False)
    yield App(url, out_dir, process, log, temp)
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
    shutil.rmtree(work, ignore_errors=True)


@pytest.fixture
def own_app() -> Iterator[App]:
    """An app of the test's own (started for it, stopped after), for tests that stop it themselves."""
    yield from start_app(["-m", "daz_depthmap.app"])


@pytest.fixture(scope="session")
def app() -> Iterator[App]:
    """``python -m daz_depthmap.app`` on a free port, outputs in a temporary folder."""
    yield from start_app(["-m", "daz_depthmap.app"])


@pytest.fixture(scope="session")
def slow_app() -> Iterator[App]:
    """The app whose preview renders take 5 s for a far cutoff of exactly 280 (``slow_app.py``)."""
    yield from start_app([str(Path(__file__).with_name("slow_app.py"))])


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make chromium` (part of `make test`) installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="dazdm-chromium-")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1500, "height": 1000},
            accept_downloads=True,
        )
        yield context
        context.close()
    shutil.rmtree(profile, ignore_errors=True)


def _stay_local(route: object) -> None:
    url = route.request.url  # type: ignore[attr-defined]
    if url.startswith(("http://127.0.0.1", "data:", "blob:")):
        route.continue_()  # type: ignore[attr-defined]
    else:
        route.abort()  # type: ignore[attr-defined]


def _open_tab(
    context: object, app: App, query: str = "", init_script: str | None = None, preview_route: bool = True
) -> object:
    page = context.new_page()  # type: ignore[attr-defined]
    if init_script:
        page.add_init_script(init_script)
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("console", lambda message: _our_error(page, message))
    page.route("**/*", _stay_local)
    if not preview_route:  # as a server without the route answers (the live path falls back to gradio's event)
        page.route(f"**{PREVIEW_ROUTE}", lambda route: route.fulfill(status=404, body='{"detail": "Not Found"}'))
    page.goto(app.url + query)
    page.wait_for_selector(f"#{PREFIX}[data-dazdm-ready]", timeout=30_000)
    if page.errors:  # a part of the tab that did not set up (the band panel without the server's limits, ...)
        pytest.fail(f"the tab's scripts failed on the page: {page.errors}", pytrace=False)
    return page


def _our_error(page: object, message: object) -> None:
    """Our scripts' own errors (a setup that failed, caught so the other parts still run) count as page errors."""
    text = message.text  # type: ignore[attr-defined]
    if message.type == "error" and text.startswith("daz_depthmap:"):  # type: ignore[attr-defined]
        page.errors.append(text)  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def open_tab() -> Callable[..., object]:
    """``open_tab(context, app, query="", init_script=None, preview_route=True)``: a new page on the app with the
    tab rendered and our scripts set up (``init_script`` runs before the page's own scripts; ``preview_route``
    False: the page finds no preview route, as on a server without it).

    JavaScript errors on the page, and our scripts' own console errors, are collected in ``page.errors``; a
    script whose setup failed fails the test here.
    """
    return _open_tab


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


#: The live preview's fast path on the server.
PREVIEW_ROUTE = "/daz-depthmap/v1/preview"


def _decode_data_url(src: str | None) -> np.ndarray:
    from PIL import Image

    if src and src.startswith("http://127.0.0.1"):  # gradio 4 serves output images as files
        with urllib.request.urlopen(src, timeout=10) as response:
            data = response.read()
        assert data.startswith(b"\x89PNG"), f"not a PNG (a lossy preview?): {src[-40:]!r}"
        return np.asarray(Image.open(io.BytesIO(data)).convert("L"))
    assert src and src.startswith("data:image/"), f"not an inline image: {str(src)[:60]!r}"
    data = base64.b64decode(src.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(data)).convert("L"))


@pytest.fixture(scope="session")
def decode_data_url() -> Callable[[str | None], np.ndarray]:
    """``decode_data_url(src)``: an ``<img>``'s source as a grey numpy array: a ``data:image/png;base64,...`` URL
    (gradio 3), or the app's URL of a PNG file (gradio 4)."""
    return _decode_data_url
