"""A storm on the standalone app's API, as several scripts and an attacker at once would send it: large bodies and
many conversions in parallel, on 127.0.0.1, bounded in count and time.

Printed (``-s``): the server's RSS at the start, at its peak and after, the page's answer times during the storm, and
how the requests were answered. Asserted, with wide margins, only what a user would notice: the page answers during
the storm, every request gets a JSON answer, those over the cap are told the server is busy, the server's memory
stays far below one body per request and comes back after.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from daz_depthmap.http.routes import MAX_IN_FLIGHT, PREFIX
from tests.serving import free_port, wait_until_serving

REPO_ROOT = Path(__file__).resolve().parent.parent
F32 = "synthetic_daz_Y_f32_zip_1200.exr"
LARGE_BODIES = 6  # ~100 MB each
CONVERSIONS = 12  # a 1200x1200 EXR each
MB = 2**20

pytestmark = pytest.mark.load


def rss(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def large_exr(path: Path) -> None:
    """An uncompressed float EXR of ~75 MB (its base64 JSON body ~100 MB), quick to read and map."""
    import OpenEXR

    side = 4430
    ramp = np.linspace(150.0, 800.0, side, dtype=np.float32)
    depth = np.ascontiguousarray(np.broadcast_to(ramp[:, None], (side, side)))
    header = {"compression": OpenEXR.NO_COMPRESSION, "type": OpenEXR.scanlineimage}
    OpenEXR.File(header, {"Y": depth}).write(str(path))


def post(url: str, data: bytes) -> tuple[int, object]:
    request = urllib.request.Request(url, data, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=120) as reply:
            return reply.status, json.load(reply)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the server's RSS from /proc")
def test_a_storm_of_large_bodies_and_conversions(shared_exr_dir: Path, tmp_path: Path):
    port = free_port()
    temp = tmp_path / "server-tmp"
    temp.mkdir()
    server = subprocess.Popen(
        [sys.executable, "-m", "daz_depthmap.app", "--host", "127.0.0.1", "--port", str(port), "--out-dir",
         str(tmp_path / "out")],
        cwd=REPO_ROOT,
        env={**os.environ, "TMPDIR": str(temp), "GRADIO_ANALYTICS_ENABLED": "False"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url + "/", server, 60, lambda: server.stderr.read() if server.stderr else "")
        big = tmp_path / "large.exr"
        large_exr(big)
        large_body = json.dumps({"image": base64.b64encode(big.read_bytes()).decode(), "name": "large.exr"}).encode()
        small_body = json.dumps({"image": base64.b64encode((shared_exr_dir / F32).read_bytes()).decode()}).encode()
        assert post(url + f"{PREFIX}/depth-map", small_body)[0] == 200  # warm: the modules a conversion uses
        idle = []
        for _ in range(5):
            began = time.monotonic()
            with urllib.request.urlopen(url + "/", timeout=60) as reply:
                reply.read()
            idle.append(time.monotonic() - began)
        time.sleep(1.0)
        start = rss(server.pid)

        peak, sampling = [start], threading.Event()

        def sample() -> None:
            while not sampling.is_set():
                peak[0] = max(peak[0], rss(server.pid))
                time.sleep(0.02)

        page_times: list[float] = []
        answers: list[tuple[str, int, object]] = []

        def ask(kind: str, body: bytes) -> None:
            try:
                status, answer = post(url + f"{PREFIX}/depth-map", body)
            except (OSError, ValueError) as exc:  # no JSON answer at all
                status, answer = -1, repr(exc)
            answers.append((kind, status, answer))

        def page() -> None:
            while not storm_done.is_set():
                began = time.monotonic()
                with urllib.request.urlopen(url + "/", timeout=60) as reply:
                    reply.read()
                page_times.append(time.monotonic() - began)
                time.sleep(0.1)

        storm_done = threading.Event()
        sampler, pager = threading.Thread(target=sample), threading.Thread(target=page)
        sampler.start()
        began = time.monotonic()
        pager.start()
        # first the large bodies (those let in arrive at once), the conversions while they do; then the
        # conversions again, on their own
        waves = [
            [("large", large_body)] * LARGE_BODIES + [("small", small_body)] * CONVERSIONS,
            [("again", small_body)] * CONVERSIONS,
        ]
        for wave in waves:
            storm = [threading.Thread(target=ask, args=request) for request in wave]
            for thread in storm:
                thread.start()
            for thread in storm:
                thread.join(120)
        took = time.monotonic() - began
        storm_done.set()
        pager.join(60)
        time.sleep(2.0)  # the memory given back
        after = rss(server.pid)
        sampling.set()
        sampler.join(10)

        counts: dict[tuple[str, int], int] = {}
        for kind, status, _ in answers:
            counts[(kind, status)] = counts.get((kind, status), 0) + 1
        print(
            f"\nstorm: {LARGE_BODIES} bodies of {len(large_body) / MB:.0f} MB and {CONVERSIONS} conversions of "
            f"{len(small_body) / MB:.1f} MB at once, then {CONVERSIONS} conversions again (at most {MAX_IN_FLIGHT} "
            f"in flight), {took:.1f} s\n"
            f"answers: {', '.join(f'{kind} {status}: {n}' for (kind, status), n in sorted(counts.items()))}\n"
            f"server RSS: start {start / MB:.0f} MB, peak {peak[0] / MB:.0f} MB (+{(peak[0] - start) / MB:.0f}), "
            f"after {after / MB:.0f} MB (+{(after - start) / MB:.0f})\n"
            f"GET / during the storm: {len(page_times)} times, slowest {max(page_times):.3f} s, "
            f"median {sorted(page_times)[len(page_times) // 2]:.3f} s (idle: {min(idle):.3f} s)"
        )
        assert len(answers) == LARGE_BODIES + 2 * CONVERSIONS
        assert all(status in (200, 503) for _, status, _ in answers), answers
        assert all(isinstance(answer, dict) for _, _, answer in answers)
        busy = [answer for _, status, answer in answers if status == 503]
        assert busy and all("busy" in answer["error"] for answer in busy)  # type: ignore[index]
        assert any(status == 200 for kind, status, _ in answers if kind == "large")
        assert any(status == 200 for kind, status, _ in answers if kind == "again")
        assert page_times and max(page_times) < 10.0  # the page answered throughout (0.01 s when idle)
        # far below one body per request held (6 x 100 MB held at once peaked at +2.2 GB), and given back
        assert peak[0] - start < 900 * MB
        assert after - start < 150 * MB
        assert not list(temp.glob("daz_depthmap-api-*")), "a posted file was left behind"
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)
