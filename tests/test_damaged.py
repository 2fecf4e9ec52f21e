"""Damaged and hostile input: a clear DepthReadError naming the file, never a crash, a hang or a huge allocation.

The damaged files are read in one child process (with a memory cap) so that a crash or a hang fails these tests
instead of killing pytest.
"""

from __future__ import annotations

import json
import struct
import textwrap
from pathlib import Path

import numpy as np
import pytest

from daz_depthmap.exr import DepthReadError, read_depth

#: Address-space cap for the child: far below what a 100000x100000 canvas (40 GB) would need.
CHILD_MEMORY_LIMIT = 3 << 30

CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
    from daz_depthmap.exr import DepthReadError, read_depth

    def peak_mb():
        # VmHWM belongs to this process's own address space; ru_maxrss would start at the forking parent's RSS
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024
    for path in sys.argv[1:]:
        print("@@" + json.dumps({{"file": path, "started": True}}), flush=True)
        started = time.perf_counter()
        try:
            image = read_depth(path)
            result = {{"ok": True, "shape": list(image.depth.shape), "channel": image.channel}}
        except DepthReadError as exc:
            result = {{"ok": False, "kind": "DepthReadError", "message": str(exc)}}
        except BaseException as exc:
            result = {{"ok": False, "kind": type(exc).__name__, "message": str(exc)}}
        result.update(file=path, seconds=time.perf_counter() - started, peak_mb=peak_mb())
        print("@@" + json.dumps(result), flush=True)
    """
).format(limit=CHILD_MEMORY_LIMIT)


def _patch_box(data: bytes, attribute: bytes, box: tuple[int, int, int, int]) -> bytes:
    """Overwrite a box2i header attribute (name, type, size, then four int32)."""
    key = attribute + b"\0box2i\0"
    at = data.find(key)
    assert at > 0, f"{attribute!r} not found in the header"
    start = at + len(key)
    assert struct.unpack("<i", data[start : start + 4]) == (16,)
    return data[: start + 4] + struct.pack("<4i", *box) + data[start + 20 :]


def _header_length(data: bytes) -> int:
    """Bytes of a single-part header: attributes until the empty name (a lone NUL)."""
    at = 8
    while data[at] != 0:
        name_end = data.index(b"\0", at)
        type_end = data.index(b"\0", name_end + 1)
        (size,) = struct.unpack("<i", data[type_end + 1 : type_end + 5])
        at = type_end + 5 + size
    return at + 1


@pytest.fixture(scope="module")
def damaged(tmp_path_factory, shared_exr_dir, python_runner):
    """What a child process made of each damaged file: name -> result (a crash or hang leaves names out)."""
    from tests.synthetic import write_depth_exr

    folder = tmp_path_factory.mktemp("damaged")
    small = folder / "source_small.exr"
    write_depth_exr(small, np.linspace(1, 2, 48 * 64, dtype=np.float32).reshape(48, 64))
    tiny = small.read_bytes()
    real = (shared_exr_dir / "synthetic_daz_Y_half_zip_1200.exr").read_bytes()
    multi = (shared_exr_dir / "blender_crowskull_RGBAZ_f32_pxr24_1920x1080.exr").read_bytes()
    header = _header_length(real)
    rng = np.random.default_rng(0)
    files = {
        "magic_only.exr": real[:4],
        "cut_in_version.exr": real[:6],
        "cut_in_header_a.exr": real[:40],
        "cut_in_header_b.exr": real[: header - 10],
        "cut_in_offsets.exr": real[: header + 100],
        "cut_data_30pct.exr": real[: len(real) * 3 // 10],
        "cut_data_60pct.exr": real[: len(real) * 6 // 10],
        "cut_last_byte.exr": real[:-1],
        "cut_multichannel_50pct.exr": multi[: len(multi) // 2],
        "random_after_magic.exr": real[:4] + rng.bytes(5000),
        "random_after_version.exr": real[:8] + rng.bytes(5000),
        "random_pixel_data.exr": tiny[: _header_length(tiny) + 8 * 3] + rng.bytes(4000),
        "huge_100000x100000.exr": _patch_box(
            _patch_box(tiny, b"dataWindow", (0, 0, 99999, 99999)), b"displayWindow", (0, 0, 99999, 99999)
        ),
        "huge_display_window.exr": _patch_box(tiny, b"displayWindow", (0, 0, 99999, 99999)),
        "huge_data_window.exr": _patch_box(tiny, b"dataWindow", (0, 0, 99999, 99999)),
        "inverted_window.exr": _patch_box(tiny, b"displayWindow", (10, 10, 0, 0)),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    proc = python_runner(["-c", CHILD, *(str(folder / name) for name in files)], timeout=120)
    results = {}
    for line in proc.stdout.splitlines():  # the OpenEXR library prints its own warnings too
        if not line.startswith("@@"):
            continue
        record = json.loads(line[2:])
        results[Path(record["file"]).name] = record
    return results, proc


HEADER_DAMAGE = [
    "magic_only.exr",
    "cut_in_version.exr",
    "cut_in_header_a.exr",
    "cut_in_header_b.exr",
    "random_after_magic.exr",
    "random_after_version.exr",
]
DATA_DAMAGE = [
    "cut_in_offsets.exr",
    "cut_data_30pct.exr",
    "cut_data_60pct.exr",
    "cut_last_byte.exr",
    "cut_multichannel_50pct.exr",
    "random_pixel_data.exr",
]
HUGE = ["huge_100000x100000.exr", "huge_display_window.exr", "huge_data_window.exr"]


def _result(damaged, name: str) -> dict:
    results, proc = damaged
    record = results.get(name)
    if record is None or "ok" not in record:
        pytest.fail(
            f"the child process died (exit {proc.returncode}) or hung while reading {name}: {proc.stderr[-2000:]}"
        )
    assert record["peak_mb"] < CHILD_MEMORY_LIMIT / 2**20, "no huge allocation"
    return record


def _refused(damaged, name: str) -> str:
    record = _result(damaged, name)
    assert not record["ok"], f"{name} was read as {record.get('shape')} from channel {record.get('channel')}"
    assert record["kind"] == "DepthReadError", f"{record['kind']}: {record['message']}"
    assert record["message"].startswith(f"{name}: "), record["message"]
    return record["message"]


@pytest.mark.parametrize("name", HEADER_DAMAGE + DATA_DAMAGE + HUGE + ["inverted_window.exr"])
def test_damaged_file_is_a_clear_error_without_crash_or_hang(damaged, name):
    message = _refused(damaged, name)
    assert "Traceback" not in message and "\n" not in message


@pytest.mark.parametrize("name", HEADER_DAMAGE)
def test_damaged_header_says_so(damaged, name):
    assert "damaged or truncated EXR header" in _refused(damaged, name)


@pytest.mark.parametrize("name", ["cut_in_offsets.exr", "cut_data_60pct.exr", "random_pixel_data.exr"])
def test_damaged_pixel_data_says_damaged_or_truncated(damaged, name):
    message = _refused(damaged, name)
    assert "damaged" in message or "truncated" in message, message
    assert "list index out of range" not in message


@pytest.mark.parametrize("name", HUGE)
def test_huge_header_is_refused_before_decoding(damaged, name):
    record = _result(damaged, name)
    message = _refused(damaged, name)
    assert "100000x100000" in message and "limit" in message
    assert record["peak_mb"] < 500


def test_inverted_window_is_a_damaged_header(damaged):
    assert "damaged" in _refused(damaged, "inverted_window.exr")


# ----------------------------------------------------------------------------------------------------------------
# Not EXR at all, or not a file: safe to read in-process (no decoder is reached)


def _message(path) -> str:
    with pytest.raises(DepthReadError) as info:
        read_depth(path)
    return str(info.value)


def test_zero_bytes(tmp_path):
    path = tmp_path / "empty.exr"
    path.write_bytes(b"")
    assert _message(path) == "empty.exr: the file is empty (0 bytes)"


def test_png_renamed_to_exr(tmp_path):
    import cv2

    path = tmp_path / "photo.exr"
    ok, data = cv2.imencode(".png", np.zeros((8, 8), np.uint8))
    assert ok
    path.write_bytes(data.tobytes())
    assert _message(path) == "photo.exr: not an OpenEXR file: it is a PNG image with an .exr name"


def test_text_file_named_exr(tmp_path):
    path = tmp_path / "notes.exr"
    path.write_text("depth cutoff 300\n")
    message = _message(path)
    assert message.startswith("notes.exr: not an OpenEXR file") and "76 2f 31 01" in message


def test_directory(tmp_path):
    folder = tmp_path / "renders.exr"
    folder.mkdir()
    assert _message(folder) == "renders.exr: is a folder, not an EXR file"


def test_missing_path(tmp_path):
    assert _message(tmp_path / "nowhere" / "gone.exr") == "gone.exr: file not found"


def test_pixel_limit_is_configurable(tmp_path):
    from tests.synthetic import write_depth_exr

    path = tmp_path / "small.exr"
    write_depth_exr(path, np.ones((20, 30), np.float32))
    assert read_depth(path, max_pixels=600).depth.shape == (20, 30)
    with pytest.raises(DepthReadError, match=r"small\.exr: 30x20 pixels .* above the limit"):
        read_depth(path, max_pixels=599)
