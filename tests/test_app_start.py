"""The standalone app's start: flags that cannot be read stop it before anything listens, and what it serves from
its first connection on."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from daz_depthmap import app
from daz_depthmap.http.routes import PREFIX
from tests.serving import free_port, wait_until_serving

REPO_ROOT = Path(__file__).resolve().parent.parent
F32 = "synthetic_daz_Y_f32_zip_1200.exr"


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("alice", "no ':'"),
        ("alice:", "empty password"),
        (":secret", "no user"),
        ("ann:secret,", "entry 2 of 2 is empty"),
        ("ann:secret,bob", "entry 2 of 2 has no ':'"),
        ("", "empty"),
        (" , ", "empty"),
    ],
)
def test_credentials_that_cannot_be_read_stop_the_start(value: str, words: str, capsys: pytest.CaptureFixture[str]):
    with socket.socket() as busy:  # were the value let through, the start would stop at the busy port instead
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        assert app.main(["--api-auth", value, "--port", str(busy.getsockname()[1])]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("error: argument --api-auth: "), err
    assert words in err
    assert "secret" not in err  # a password is never echoed


# --------------------------------------------------------------------------------------------------------------
# The running app, as a process of its own (a probe records what its server had when it started listening)

PROBE = """
import sys, threading, time
import uvicorn
from daz_depthmap import app
from daz_depthmap.http import routes

_startup = uvicorn.Server.startup

async def startup(self, *args, **kwargs):  # the moment the server starts to listen
    paths = sorted(getattr(route, "path", "") for route in self.config.app.routes)
    print("LISTENING", " ".join(paths), flush=True)
    return await _startup(self, *args, **kwargs)

uvicorn.Server.startup = startup

if "--slow" in sys.argv:  # conversions that take long: SIGTERM comes in the middle of one
    sys.argv.remove("--slow")
    real = routes.convert

    def slow(*args, **kwargs):
        print("CONVERTING", flush=True)
        time.sleep(60)
        return real(*args, **kwargs)

    routes.convert = slow
sys.exit(app.main(sys.argv[1:]))
"""


@contextlib.contextmanager
def running_app(tmp_path: Path, *flags: str) -> Iterator[tuple[str, subprocess.Popen[str], Path]]:
    """The app with the probe on a free port: ``(url, process, its temporary folder)``; stopped after."""
    port = free_port()
    script, temp = tmp_path / "probe.py", tmp_path / "tmp"
    script.write_text(PROBE, encoding="utf-8")
    temp.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TMPDIR": str(temp), "GRADIO_ANALYTICS_ENABLED": "False"}
    process = subprocess.Popen(
        [sys.executable, str(script), "--port", str(port), "--out-dir", str(tmp_path / "out"), *flags],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url + "/", process, 90, lambda: process.stdout.read() if process.stdout else "")
        yield url, process, temp
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(30)


def lines_until(process: subprocess.Popen[str], start: str, seconds: float = 60) -> str:
    """The first line of the process's output that starts with ``start``."""
    assert process.stdout is not None
    found: list[str] = []

    def read() -> None:
        for line in process.stdout:  # type: ignore[union-attr]
            if line.startswith(start):
                found.append(line)
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(seconds)
    assert found, f"no line starting with {start!r}"
    return found[0]


def test_the_routes_are_there_before_the_server_listens(tmp_path: Path):
    with running_app(tmp_path) as (url, process, _):
        listening = lines_until(process, "LISTENING").split()
        assert f"{PREFIX}/depth-map" in listening and f"{PREFIX}/preview" in listening, listening
        with urllib.request.urlopen(url + "/openapi.json", timeout=30) as reply:
            schema = json.load(reply)
        assert f"{PREFIX}/depth-map" in schema["paths"] and f"{PREFIX}/histogram" in schema["paths"]
        fields = schema["paths"][f"{PREFIX}/depth-map"]["post"]["requestBody"]["content"]["application/json"]
        assert {"image", "name", "options"} <= set(fields["schema"]["properties"])
        # cross-site: neither our routes nor gradio's page allow another site's page (gradio's CORS dropped)
        request = urllib.request.Request(url + "/", headers={"Origin": "http://evil.example"})
        with urllib.request.urlopen(request, timeout=30) as reply:
            assert reply.headers.get("access-control-allow-origin") is None
        request = urllib.request.Request(
            url + f"{PREFIX}/depth-map", b"{}", {"Origin": "http://evil.example", "Content-Type": "application/json"}
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)
        assert refused.value.code == 403 and refused.value.headers.get("access-control-allow-origin") is None
        assert "cross-site" in json.loads(refused.value.read())["error"]


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM")
def test_sigterm_during_a_conversion_leaves_no_posted_file(tmp_path: Path, shared_exr_dir: Path):
    body = json.dumps({"image": base64.b64encode((shared_exr_dir / F32).read_bytes()).decode()}).encode()
    with running_app(tmp_path, "--slow") as (url, process, temp):
        request = urllib.request.Request(url + f"{PREFIX}/depth-map", body, {"Content-Type": "application/json"})
        client = threading.Thread(target=_post_quietly, args=(request,), daemon=True)
        client.start()
        lines_until(process, "CONVERTING")
        assert list(temp.glob("daz_depthmap-api-*")), "the posted file is where the conversion reads it"
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
        assert list(temp.glob("daz_depthmap-api-*")) == []


def _post_quietly(request: urllib.request.Request) -> None:
    with contextlib.suppress(OSError):
        urllib.request.urlopen(request, timeout=120)
