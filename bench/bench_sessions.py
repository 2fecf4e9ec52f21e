"""What a long-running server keeps: rounds of browser sessions on the standalone app, each uploading a 4096² EXR,
moving the cutoff and turning compress_map on, then closing. After each round: the app's resident memory and the
bytes of uploads left on disk (gradio's temporary copies and the session store's own).

    .venv/bin/python bench/bench_sessions.py [--rounds 10] [--sessions 6] [app options ...]

Extra arguments go to the app (``--session-memory-mb``, ``--session-idle-minutes``) to see the limits at work.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.chromium import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.synthetic import daz_like_depth, write_depth_exr  # noqa: E402

P = "daz_depthmap"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def disk_mb(folder: Path) -> float:
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):  # a file deleted meanwhile
                total += (Path(root) / name).stat().st_size
    return total / 2**20


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def one_session(browser: object, url: str, exr: Path, close_tab: bool) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    if not close_tab:  # a page that vanishes without a word (a crashed browser): it never tells the server
        page.add_init_script("navigator.sendBeacon = () => true;")
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(("http://127", "data:")) else r.abort())
    page.goto(url)
    page.wait_for_selector(f"#{P}[data-dazdm-ready]", timeout=60_000)
    page.set_input_files(f"#{P}_upload input[type=file]", str(exr))
    page.wait_for_selector(f"#{P}_preview_depth img", timeout=120_000)
    page.fill(f"#{P}_cutoff input[type=number]", "250")
    page.wait_for_function(f"() => !dazDepthmap.live.busy('{P}')", timeout=60_000)
    page.click(f"#{P}_compress_map input")
    page.wait_for_timeout(3000)  # the ranking reads the file again
    page.goto("about:blank")  # as closing the browser tab does: the page hides (and tells the server)
    page.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--sessions", type=int, default=6)
    parser.add_argument(
        "--vanish", action="store_true", help="end each session without the page hiding (a crashed browser)"
    )
    args, app_args = parser.parse_known_args()
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="dazdm-bench-sessions-"))
    temp = work / "tmp"
    temp.mkdir()
    exr = work / "scene_4096.exr"
    write_depth_exr(exr, daz_like_depth(4096, 4096))
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(REPO), GRADIO_ANALYTICS_ENABLED="False", TMPDIR=str(temp))
    env.pop("GRADIO_TEMP_DIR", None)
    command = [sys.executable, "-m", "daz_depthmap.app", "--port", str(port), "--out-dir", str(work / "out")]
    app = subprocess.Popen(command + app_args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                time.sleep(0.25)
        print(f"file: {exr.stat().st_size / 2**20:.1f} MB 4096x4096 float32 EXR; {args.sessions} sessions a round")
        print(f"{'round':>5} {'sessions':>8} {'app RSS MB':>10} {'uploads on disk MB':>18} {'seconds':>8}")
        print(f"{0:>5} {0:>8} {rss_mb(app.pid):>10.0f} {disk_mb(temp):>18.1f} {0:>8}")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for number in range(1, args.rounds + 1):
                started = time.perf_counter()
                for _ in range(args.sessions):
                    one_session(browser, url, exr, close_tab=not args.vanish)
                time.sleep(2)
                took = time.perf_counter() - started
                row = f"{number:>5} {number * args.sessions:>8} {rss_mb(app.pid):>10.0f} {disk_mb(temp):>18.1f}"
                print(f"{row} {took:>8.0f}", flush=True)
            browser.close()
    finally:
        app.terminate()
        app.wait(timeout=20)
        left = disk_mb(temp)
        print(f"after the app stopped: {left:.1f} MB of uploads left on disk")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
