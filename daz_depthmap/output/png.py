"""PNG encoding and atomic writes (output names are in :mod:`daz_depthmap.output.names`)."""

from __future__ import annotations

import errno
import os
import secrets
import struct
import zlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np

#: zlib level for PNGs: 1, the fastest. Higher levels buy little on depth maps, and nothing with Z_RLE.
PNG_COMPRESSION = 1
#: zlib strategy per bit depth. 8-bit depth maps change by a level or so from row to row: after the "Up" filter they
#: are long runs of equal bytes, which Z_RLE finds about 2.5x faster than OpenCV/libpng at level 1, in a third less
#: space. 16-bit samples' low bytes vary: the "Sub" filter and ordinary deflate do better there (bench/RESULTS.md).
PNG_STRATEGY = {8: zlib.Z_RLE, 16: zlib.Z_DEFAULT_STRATEGY}

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_SUB, _PNG_UP = 1, 2  # PNG filter types: difference from the pixel on the left / the row above
#: Rows filtered and compressed per step: a few MB of temporaries at most, whatever the image size.
_PNG_BAND_BYTES = 1 << 20
#: Image data is split into chunks of this size: PNG allows 2**31 - 1 bytes, but libpng-based readers (OpenCV) warn
#: about chunks above 8 MB.
_PNG_MAX_CHUNK = 1 << 20


def _png_chunk(kind: bytes, data: bytes | memoryview) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))


def _png_scanlines(image: np.ndarray) -> bytes:
    """The zlib stream of a PNG's IDAT: 8-bit rows with the "Up" filter, 16-bit rows (big-endian) with "Sub".

    A filter stores each byte as its difference (modulo 256) from the same byte of the row above (Up; above the
    first row is zero) or of the pixel on the left (Sub; left of the first pixel is zero).
    """
    height, width = image.shape[:2]
    bpp = image.itemsize * (image.shape[2] if image.ndim == 3 else 1)  # bytes per pixel
    row_filter = _PNG_UP if image.itemsize == 1 else _PNG_SUB
    band = max(1, _PNG_BAND_BYTES // (width * bpp))
    compressor = zlib.compressobj(PNG_COMPRESSION, zlib.DEFLATED, 15, 9, PNG_STRATEGY[8 * image.itemsize])
    pieces = []
    above = np.zeros(width * bpp, np.uint8)
    for top in range(0, height, band):
        rows = np.ascontiguousarray(image[top : top + band], dtype=image.dtype.newbyteorder(">"))
        rows = rows.view(np.uint8).reshape(len(rows), width * bpp)
        filtered = np.empty((len(rows), width * bpp + 1), np.uint8)
        filtered[:, 0] = row_filter
        if row_filter == _PNG_UP:
            np.subtract(rows[0], above, out=filtered[0, 1:])
            np.subtract(rows[1:], rows[:-1], out=filtered[1:, 1:])
            above = rows[-1]
        else:
            filtered[:, 1 : 1 + bpp] = rows[:, :bpp]
            np.subtract(rows[:, bpp:], rows[:, :-bpp], out=filtered[:, 1 + bpp :])
        pieces.append(compressor.compress(filtered))
    pieces.append(compressor.flush())
    return b"".join(pieces)


def encode_png(image: np.ndarray) -> bytes:
    """Encode a grey (H, W) or RGB (H, W, 3) uint8 or uint16 array as PNG bytes.

    Written here with zlib rather than through OpenCV/libpng: one fixed filter per bit depth instead of libpng's
    per-row filter search encodes depth maps faster and smaller (see :data:`PNG_STRATEGY`), and the command line
    need not import OpenCV at all.
    """
    rgb = image.ndim == 3 and image.shape[2] == 3
    if not (image.ndim == 2 or rgb) or image.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"expected a grey or RGB uint8 or uint16 array, got {image.dtype} {image.shape}")
    height, width = image.shape[:2]
    if height == 0 or width == 0:
        raise ValueError(f"cannot encode an empty image ({width}x{height})")
    colour_type = 2 if rgb else 0
    header = struct.pack(">IIBBBBB", width, height, 8 * image.itemsize, colour_type, 0, 0, 0)  # no interlace
    data = memoryview(_png_scanlines(image))
    idat = [_png_chunk(b"IDAT", data[i : i + _PNG_MAX_CHUNK]) for i in range(0, len(data), _PNG_MAX_CHUNK)]
    return b"".join((_PNG_SIGNATURE, _png_chunk(b"IHDR", header), *idat, _png_chunk(b"IEND", b"")))


def write_atomic(path: str | os.PathLike[str], data: bytes, protect: Iterable[str | os.PathLike[str]] = ()) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename.

    A reader never sees a half-written file, and a failure leaves no partial output behind. Paths in
    ``protect`` (the inputs) are never overwritten. The temporary name is short whatever the final name, so any
    name the file system takes can be written; one it refuses is said in words.
    """
    path = Path(path)
    target = path.resolve()
    for other in protect:
        if Path(other).resolve() == target:
            raise OSError(f"refusing to overwrite the input {Path(other).name}")
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".dazdm-{secrets.token_hex(6)}.tmp")
    # created like any new file (0666 less the umask), unlike mkstemp's 0600; O_EXCL: never an existing file
    handle = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temp, path)
    except BaseException as exc:
        temp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and _name_too_long(exc):
            raise OSError(
                f"the output name {path.name!r} ({len(path.name)} characters) is too long for this file system; "
                "shorten the input's name"
            ) from None
        raise
    return path


def _name_too_long(exc: OSError) -> bool:
    """ENAMETOOLONG, or Windows' "file name too long" (206) / invalid-name (123) errors."""
    return exc.errno == errno.ENAMETOOLONG or getattr(exc, "winerror", None) in (206, 123)


def write_png(path: str | os.PathLike[str], image: np.ndarray, protect: Iterable[str | os.PathLike[str]] = ()) -> Path:
    """Encode and write a PNG atomically (see :func:`write_atomic`)."""
    return write_atomic(path, encode_png(image), protect)


def save_outputs(
    outputs: Iterable[tuple[str | os.PathLike[str], np.ndarray]], protect: Iterable[str | os.PathLike[str]] = ()
) -> list[Path]:
    """Encode every ``(path, image)`` first, then write each atomically; returns the paths written.

    Encoding everything before writing anything means a failure to encode leaves no output of the set behind.
    """
    protect = list(protect)
    encoded = [(path, encode_png(image)) for path, image in outputs]
    return [write_atomic(path, data, protect) for path, data in encoded]
