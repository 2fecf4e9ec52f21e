"""The API's bodies read as they arrive (daz_depthmap.http.body): the same fields and bytes as parsing the whole body
would give, however the body is cut into pieces, refusals as 4xx errors, and memory that does not grow with the
image."""

from __future__ import annotations

import base64
import json
import random
import tempfile
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from daz_depthmap.exr.layout import EXR_MAGIC
from daz_depthmap.http import api
from daz_depthmap.http.api import ApiError
from daz_depthmap.http.body import MAX_NESTING, ExrSink, JsonBody, MultipartBody, loads, nesting

EXR = EXR_MAGIC + b"\x02\x00\x00\x00" + bytes(range(256)) * 40


@pytest.fixture(autouse=True)
def private_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def pieces(data: bytes, seed: int) -> Iterator[bytes]:
    """``data`` cut at random places (pieces of 1 byte up to a few kB)."""
    rng = random.Random(seed)
    position = 0
    while position < len(data):
        size = rng.choice([1, 2, 3, 5, 7, rng.randint(1, 64), rng.randint(1, 5000)])
        yield data[position : position + size]
        position += size


def read_json(body: bytes, seed: int = 0) -> tuple[dict, ExrSink, JsonBody]:
    sink = ExrSink()
    reader = JsonBody(sink)
    for piece in pieces(body, seed):
        reader.feed(piece)
    fields = reader.close()
    sink.finish()
    return fields, sink, reader


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(
    "literal",  # the image's JSON string literal, as different encoders write it
    [
        lambda b: base64.b64encode(b).decode(),
        lambda b: "data:image/x-exr;base64," + base64.b64encode(b).decode(),
        lambda b: base64.b64encode(b).decode().replace("/", "\\/"),  # as PHP's json_encode writes a slash
        lambda b: "".join(f"\\u{ord(c):04x}" if i % 7 == 0 else c for i, c in enumerate(base64.b64encode(b).decode())),
    ],
)
def test_a_json_body_gives_the_same_fields_and_bytes_however_it_arrives(seed: int, literal, tmp_path: Path):
    fields = {
        "name": 'a "quoted", \\ name \u00e9\u4e2d.exr',
        "options": {"depth_cutoff": 250.5, "mask": True, "label": "x}],{["},
        "recipe": None,
        "bands": "180,400",
        "min_area": 12,
        "regions": False,
        "nested": [[{"a": [1, 2, {"b": "]"}]}]],
    }
    image = EXR + bytes([seed]) * (seed * 7)
    body = {**fields, "image": "@"} if seed % 2 else {"image": "@", **fields}
    for text in (json.dumps(body), json.dumps(body, indent=2), json.dumps(body, ensure_ascii=False)):
        text = text.replace('"@"', '"' + literal(image) + '"')
        got, sink, reader = read_json(text.encode("utf-8"), seed)
        assert got == fields and reader.image_seen and sink.problem is None
        assert sink.check("a.exr").read_bytes() == image
        sink.discard()
        assert sink.path is not None and not sink.path.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("seed", range(300))
def test_base64_is_as_strict_as_b64decode_with_validate(seed: int):
    rng = random.Random(seed)
    text = base64.b64encode(EXR[: rng.randint(8, 40)]).decode()
    if seed % 3:  # damage it
        at = rng.randrange(len(text) + 1)
        text = text[:at] + rng.choice(["=", "==", " ", "\n", "*", "A", "AB", "-", "_", "===", "\\n"]) + text[at:]
    try:
        expected = base64.b64decode(text.replace("\\n", "\n"), validate=True)
    except ValueError:
        expected = None
    _, sink, _ = read_json(json.dumps({"image": text.replace("\\n", "\n")}).encode(), seed)
    if expected is None or len(text) % 4:  # b64decode lets a few misplaced paddings through; so much the better
        assert sink.problem is not None and "base64" in sink.problem.message
    elif expected[:4] == EXR_MAGIC and len(expected) >= 8:
        assert sink.problem is None and sink.check("x").read_bytes() == expected
    sink.discard()


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (b"", 400, "not valid JSON"),
        (b"{not json", 400, "not valid JSON"),
        (b'{"a": 1', 400, "not valid JSON"),
        (b'{"a": 1}}', 400, "not valid JSON"),
        (b'{"a" 1}', 400, "not valid JSON"),
        (b'{"a": tru}', 400, "not valid JSON"),
        (b"[1, 2]", 400, "must be a JSON object"),
        (b'"text"', 400, "must be a JSON object"),
        (b'{"options": ' + b"[" * 20000 + b"]" * 20000 + b"}", 400, "nested too deeply"),
        (b'{"options": ' + b"[" * 20000, 400, "nested too deeply"),
        (b'{"image": "AAAA", "image": "AAAA"}', 400, "given twice"),
        (b'{"options": "' + b"x" * (5 * 2**20) + b'"}', 413, "fields besides the image"),
    ],
    ids=lambda value: repr(value[:24]) if isinstance(value, bytes) else str(value),
)
def test_json_bodies_that_are_not_a_request_are_refused(body: bytes, status: int, words: str):
    with pytest.raises(ApiError) as caught:
        read_json(body)
    assert caught.value.status == status and words in caught.value.message, caught.value.message


def test_the_image_is_refused_from_its_first_bytes_and_not_written():
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"x" * 100_000).decode()
    _, sink, _ = read_json(json.dumps({"image": png, "name": "p.png"}).encode())
    assert sink.path is None  # nothing written
    with pytest.raises(ApiError) as caught:
        sink.check("p.png")
    assert caught.value.status == 415 and "a PNG" in caught.value.message
    _, sink, reader = read_json(b'{"image": ""}')
    assert reader.image_seen and reader.image_chars == 0 and sink.path is None


def test_a_large_image_is_read_in_little_memory(tmp_path: Path):
    """50 MB of EXR as base64 JSON in 64 kB pieces: the reader holds a few small buffers, never the image."""
    size, step = 50 * 2**20, 3 * 2**14
    block = base64.b64encode((EXR * (step // len(EXR) + 1))[:step])  # a whole number of base64 groups

    def body() -> Iterator[bytes]:
        yield b'{"name": "big.exr", "image": "'
        for _ in range(size // step):
            yield block
        yield b'", "options": {"mask": true}}'

    sink = ExrSink()
    reader = JsonBody(sink)
    tracemalloc.start()
    try:
        for piece in body():
            reader.feed(piece)
        fields = reader.close()
        sink.finish()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert fields == {"name": "big.exr", "options": {"mask": True}}
    assert sink.check("big.exr").stat().st_size == size // step * step
    assert peak < 4 * 2**20, f"{peak / 2**20:.1f} MB held while reading a {size / 2**20:.0f} MB image"
    sink.discard()


def multipart(parts: list[tuple[str, str | None, bytes]], boundary: str = "xYzZy") -> tuple[str, bytes]:
    body = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"
    return f"multipart/form-data; boundary={boundary}", body + f"--{boundary}--\r\n".encode()


@pytest.mark.parametrize("seed", range(4))
def test_a_multipart_upload_streams_its_file_and_keeps_its_fields(seed: int):
    content_type, body = multipart(
        [
            ("options", None, b'{"mask": true}'),
            ("file", "scene.exr", EXR),
            ("other", "ignored.bin", b"x" * 1000),
            ("bands", None, "180,400 \u00e9".encode()),
        ]
    )
    sink = ExrSink()
    reader = MultipartBody(content_type, sink)
    for piece in pieces(body, seed):
        reader.feed(piece)
    reader.close()
    sink.finish()
    assert reader.filename == "scene.exr"
    assert reader.items == [("options", '{"mask": true}'), ("bands", "180,400 \u00e9")]
    assert sink.check("scene.exr").read_bytes() == EXR
    sink.discard()


@pytest.mark.parametrize(
    ("content_type", "body", "words"),
    [
        ("multipart/form-data", b"anything", "boundary"),
        ("multipart/form-data; boundary=xYzZy", b"garbage that is no multipart body" * 10, "cannot be read"),
        ("multipart/form-data; boundary=xYzZy", b"--xYzZy\r\nContent-Disposition: form-data; name=", "ends before"),
        ("multipart/form-data; boundary=xYzZy", multipart([("file", "a.exr", EXR)])[1][:-12], "ends before"),
        ("multipart/form-data; boundary=xYzZy", multipart([("f", None, b"\xff\xfe")])[1], "not UTF-8"),
        (
            "multipart/form-data; boundary=xYzZy",
            multipart([("file", "a.exr", EXR), ("file", "b.exr", EXR)])[1],
            "given twice",
        ),
        ("multipart/form-data; boundary=xYzZy", multipart([("f", None, b"")] * 70)[1], "at most"),
    ],
)
def test_multipart_bodies_that_cannot_be_read_are_a_400(content_type: str, body: bytes, words: str):
    sink = ExrSink()
    with pytest.raises(ApiError) as caught:
        reader = MultipartBody(content_type, sink)
        reader.feed(body)
        reader.close()
    sink.discard()
    assert caught.value.status == 400 and words in caught.value.message, caught.value.message


def test_json_fields_are_parsed_with_their_nesting_limited():
    assert nesting('{"a": [1, {"b": "[[[["}], "c": "\\"[{"}') == 3
    assert loads('{"mask": true}', "options") == {"mask": True}
    with pytest.raises(ApiError) as caught:
        loads("[" * 20000 + "]" * 20000, "options")
    assert caught.value.status == 400 and "nested too deeply" in caught.value.message
    deep = "[" * MAX_NESTING + "]" * MAX_NESTING
    assert nesting(deep) == MAX_NESTING and loads(deep, "x") is not None


def test_temporary_files_left_at_exit_are_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(api, "_temporaries", set())
    monkeypatch.setattr(api, "_closing", False)
    sink = ExrSink()
    sink.write(EXR)
    sink.finish()
    assert sink.path is not None and sink.path.name.startswith("daz_depthmap-api-") and sink.path.exists()
    api.remove_temporaries()  # the interpreter's exit, with a request still holding its file
    assert not sink.path.exists()
    late = ExrSink()
    late.write(EXR)
    with pytest.raises(ApiError) as caught:  # and none is made after
        late.finish()
    assert caught.value.status == 503
    assert list(tmp_path.iterdir()) == []


def test_a_json_body_cut_anywhere_in_two_reads_the_same():
    text = json.dumps(
        {"name": 'a "b" \\ c \u00e9.exr', "image": "@", "options": {"k": ['x"y', {"z": "\\"}]}, "n": -1.5e3}
    ).replace('"@"', '"' + base64.b64encode(EXR[:200]).decode().replace("/", "\\/") + '"')
    expected = json.loads(text)
    body = text.encode()
    for cut in range(len(body) + 1):
        sink = ExrSink()
        reader = JsonBody(sink)
        reader.feed(body[:cut])
        reader.feed(body[cut:])
        fields = reader.close()
        sink.finish()
        assert fields == {k: v for k, v in expected.items() if k != "image"}, cut
        assert sink.check("x").read_bytes() == EXR[:200], cut
        sink.discard()
