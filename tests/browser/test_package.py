"""The pip package as a user gets it: the wheel built from the tracked files, installed into a fresh venv with the
app's extra, its console scripts, and the app in Chromium with its page scripts (the histogram draws)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import venv
import zipfile
from pathlib import Path

import pytest

from daz_depthmap.tab.compat import GRADIO_MAJOR

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE = REPO_ROOT.parent / "shared" / "testdata" / "exr" / "synthetic_daz_Y_f32_zip_1200.exr"

pytestmark = pytest.mark.browser


def _tracked_copy(target: Path) -> Path:
    """The repository's tracked files (what a clone has), copied: the build never writes into the checkout."""
    listing = ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    files = subprocess.run(listing, cwd=REPO_ROOT, capture_output=True, check=True).stdout
    for name in filter(None, files.decode().split("\0")):
        source = REPO_ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel and its app extra installed (the WebUI's pins as constraints)."""
    work = tmp_path_factory.mktemp("package")
    source = _tracked_copy(work / "src")
    run = lambda *args: subprocess.run(args, capture_output=True, text=True, timeout=600)  # noqa: E731
    built = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                str(work / "dist"), str(source))  # fmt: skip
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = (work / "dist").glob("daz_depthmap-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.endswith("share/daz-depthmap/style.css") for n in names), names
    assert any(n.endswith("share/daz-depthmap/javascript/daz_depthmap_base.js") for n in names), names
    environment = work / "venv"
    venv.EnvBuilder(with_pip=True).create(environment)
    python = environment / ("Scripts" if os.name == "nt" else "bin") / "python"
    # the extra of the gradio this run tests, with the pins of its half of `make test` as constraints
    pins, extra = ("requirements-test.txt", "app") if GRADIO_MAJOR < 4 else ("requirements-forge.txt", "app-gradio4")
    constraints = [line for line in (REPO_ROOT / pins).read_text().splitlines() if "==" in line]
    (work / "constraints.txt").write_text("\n".join(constraints) + "\n")
    done = run(str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
               "-c", str(work / "constraints.txt"), f"{wheel}[{extra}]")  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return environment


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_console_scripts_work_outside_the_checkout(installed: Path, tmp_path: Path, png_reader):
    bin_dir = installed / ("Scripts" if os.name == "nt" else "bin")
    copy = tmp_path / "scene.exr"
    copy.write_bytes(SAMPLE.read_bytes())
    done = subprocess.run([str(bin_dir / "daz-depthmap"), "-q", str(copy)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert png_reader(tmp_path / "scene.depth.png").shape == (1200, 1200)
    assert "gradio 3" not in done.stderr


def test_the_installed_app_serves_its_page_scripts_and_the_histogram_draws(installed: Path, tmp_path: Path, browser):
    bin_dir = installed / ("Scripts" if os.name == "nt" else "bin")
    port = _free_port()
    log = tmp_path / "app.log"
    with log.open("wb") as sink:
        app = subprocess.Popen([str(bin_dir / "daz-depthmap-app"), "--port", str(port), "--out-dir",
                                str(tmp_path / "out")], cwd=tmp_path, stdout=sink, stderr=subprocess.STDOUT,
                               env=dict(os.environ, GRADIO_ANALYTICS_ENABLED="False"))  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}/"
        for _ in range(240):
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                if app.poll() is not None:
                    pytest.fail(log.read_text(errors="replace"))
                time.sleep(0.25)
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        local = ("http://127", "data:")
        page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(local) else r.abort())
        try:
            page.goto(url)
            page.wait_for_selector("#daz_depthmap[data-dazdm-ready]", timeout=60_000)
            page.set_input_files("#daz_depthmap_upload input[type=file]", str(SAMPLE))
            page.wait_for_selector("#daz_depthmap_preview_depth img", timeout=60_000)
            page.wait_for_timeout(300)
            painted = page.evaluate(
                """() => { const c = document.querySelector('#daz_depthmap .dazdm-histo-canvas');
                    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                    let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; }"""
            )
        finally:
            page.close()
        assert painted > 2000, "the histogram is blank: the page scripts did not load"
        assert errors == []
    finally:
        app.terminate()
        app.wait(timeout=20)
