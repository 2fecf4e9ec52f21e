"""An OpenEXR file's layout, read from its bytes without OpenEXR: the headers, each part's chunk offset table and
every chunk's leading size — enough to refuse a damaged file before the library decodes it, and to cut one part
out of a multi-part file.

OpenEXR's C library prints one stderr line per bad chunk (up to hundreds for a fuzzed file) and its Python bindings
print a warning to stdout and drop a part whose pixels fail to decode; this check finds nearly all such damage
first, quietly, in milliseconds (the file is memory-mapped). Layout per the OpenEXR file format: magic, version
flags, header(s) of attributes (``name\\0 type\\0 int32 size, value``) each ending in ``\\0``, offset tables, chunks.
"""

from __future__ import annotations

import math
import mmap
import os
import struct
from dataclasses import dataclass

EXR_MAGIC = b"\x76\x2f\x31\x01"

_TILED, _LONG_NAMES, _DEEP, _MULTIPART = 0x200, 0x400, 0x800, 0x1000
#: Scanlines per chunk by compression code (NONE, RLE, ZIPS, ZIP, PIZ, PXR24, B44, B44A, DWAA, DWAB, HTJ2K256,
#: HTJ2K32, ZSTD as the libraries number them); an unknown code counts one line per chunk.
_LINES_PER_CHUNK = {0: 1, 1: 1, 2: 1, 3: 16, 4: 32, 5: 16, 6: 32, 7: 32, 8: 32, 9: 256, 10: 256, 11: 32, 12: 256}
#: More chunks than this is a damaged header (OpenEXR's own limit for rebuilding a chunk table).
MAX_CHUNKS = 1 << 20
#: Pixels claimed per byte of file beyond which a file is taken for damaged: honest files compress up to about
#: 1,240:1 (an all-zero image), fuzzed ones claim millions.
MAX_PIXEL_BYTES_PER_FILE_BYTE = 4096


class LayoutError(ValueError):
    """The file's structure is damaged; the message says where, for a user."""


@dataclass(frozen=True)
class PartLayout:
    """One part: its header attributes (raw bytes) and where its chunks are."""

    attributes: dict[str, bytes]
    tiled: bool
    deep: bool
    chunk_count: int
    offsets: tuple[int, ...] = ()
    header_span: tuple[int, int] = (0, 0)  # the header's bytes, without its closing \0

    @property
    def name(self) -> str:
        return self.attributes.get("name", b"").rstrip(b"\0").decode("utf-8", "replace")

    @property
    def decoded_bytes(self) -> int:
        """What decoding the part's pixels allocates: its data window's area times its channels' bytes per pixel."""
        return int(math.prod(_box(self.attributes["dataWindow"])) * _pixel_bytes(self.attributes["channels"]))


@dataclass(frozen=True)
class FileLayout:
    """A whole file: its version flags, parts and size."""

    flags: int
    parts: tuple[PartLayout, ...]
    size: int

    @property
    def multipart(self) -> bool:
        return bool(self.flags & _MULTIPART)


def _box(value: bytes) -> tuple[int, int]:
    x0, y0, x1, y1 = struct.unpack("<4i", value)
    return x1 - x0 + 1, y1 - y0 + 1


def _chunk_count(attributes: dict[str, bytes], tiled: bool) -> int:
    if "chunkCount" in attributes:
        return int(struct.unpack("<i", attributes["chunkCount"])[0])
    width, height = _box(attributes["dataWindow"])
    if width <= 0 or height <= 0:
        raise LayoutError(f"damaged or truncated EXR header: empty data window {width}x{height}")
    if not tiled:
        lines = _LINES_PER_CHUNK.get(attributes["compression"][0], 1)
        return -(-height // lines)
    tile_x, tile_y, mode_byte = struct.unpack("<IIB", attributes["tiles"])
    if tile_x == 0 or tile_y == 0:
        raise LayoutError("damaged or truncated EXR header: zero tile size")
    mode, round_up = mode_byte & 15, mode_byte >> 4

    def levels(size: int) -> int:
        return (math.ceil if round_up else math.floor)(math.log2(size)) + 1

    def level_size(size: int, level: int) -> int:
        return max(1, -(-size // (1 << level)) if round_up else size // (1 << level))

    def tiles(level_x: int, level_y: int) -> int:
        return -(-level_size(width, level_x) // tile_x) * -(-level_size(height, level_y) // tile_y)

    if mode == 0:
        return tiles(0, 0)
    if mode == 1:
        return sum(tiles(level, level) for level in range(levels(max(width, height))))
    return sum(tiles(lx, ly) for lx in range(levels(width)) for ly in range(levels(height)))


def _pixel_bytes(channels: bytes) -> float:
    """Bytes per pixel the channel list claims (half 2, float/uint 4, subsampled channels less)."""
    position, total = 0, 0.0
    while channels[position] != 0:
        position = channels.index(b"\0", position) + 1
        kind, _, x_sampling, y_sampling = struct.unpack_from("<iI2i", channels, position)
        position += 16
        total += (2 if kind == 1 else 4) / max(1, x_sampling * y_sampling)
    return total


def _headers(data: mmap.mmap | bytes, flags: int) -> tuple[list[tuple[dict[str, bytes], tuple[int, int]]], int]:
    """Every header's attributes and byte span; the position after the headers."""
    size = len(data)
    name_limit = 256 if flags & _LONG_NAMES else 32
    position, found = 8, []
    while True:
        start, attributes = position, {}
        while data[position] != 0:
            name_end = data.find(b"\0", position, position + name_limit)
            type_end = data.find(b"\0", name_end + 1, name_end + 1 + name_limit) if name_end >= 0 else -1
            if name_end < 0 or type_end < 0:
                raise LayoutError("damaged or truncated EXR header: an attribute name or type does not end")
            length = struct.unpack_from("<i", data, type_end + 1)[0]
            if length < 0 or type_end + 5 + length > size:
                raise LayoutError("damaged or truncated EXR header: an attribute runs past the end of the file")
            attributes[bytes(data[position:name_end]).decode("latin-1")] = bytes(
                data[type_end + 5 : type_end + 5 + length]
            )
            position = type_end + 5 + length
        found.append((attributes, (start, position)))
        position += 1
        if not flags & _MULTIPART or data[position] == 0:
            break
    return found, position + (1 if flags & _MULTIPART else 0)


def read_layout(path: str | os.PathLike[str], max_ratio: float = MAX_PIXEL_BYTES_PER_FILE_BYTE) -> FileLayout:
    """The layout of an EXR file, checked: every chunk lies inside the file and the headers do not claim far more
    pixels than the file could hold.

    Raises
    ------
    LayoutError
        Naming what is damaged (a header, the chunk table, a chunk).
    OSError
        When the file cannot be read.
    """
    with open(path, "rb") as handle:
        if os.fstat(handle.fileno()).st_size < 8:
            raise LayoutError("damaged or truncated EXR header: the file ends inside its first bytes")
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return _check(data, max_ratio)


def _check(data: mmap.mmap, max_ratio: float) -> FileLayout:
    size = len(data)
    if data[:4] != EXR_MAGIC:
        raise LayoutError("not an OpenEXR file (it does not start with the EXR signature 76 2f 31 01)")
    flags = struct.unpack_from("<I", data, 4)[0]
    tiled = bool(flags & _TILED)
    try:
        headers, position = _headers(data, flags)
        kinds = [a.get("type", b"deeptile" if flags & _DEEP and tiled else b"") for a, _ in headers]
        counts = [_chunk_count(a, tiled or b"tile" in k) for (a, _), k in zip(headers, kinds, strict=True)]
        claimed = sum(
            math.prod(_box(a["dataWindow"])) * _pixel_bytes(a["channels"])
            for (a, _), k in zip(headers, kinds, strict=True)
            if b"deep" not in k
        )
    except LayoutError:
        raise
    except (IndexError, ValueError, KeyError, TypeError, ZeroDivisionError, OverflowError, struct.error) as exc:
        raise LayoutError(f"damaged or truncated EXR header ({type(exc).__name__} while reading it)") from None
    if any(count <= 0 for count in counts) or sum(counts) > MAX_CHUNKS:
        raise LayoutError("damaged or truncated EXR header: an impossible number of chunks")
    if claimed > max_ratio * size:
        raise LayoutError(
            f"damaged or truncated EXR header: it claims {claimed:,.0f} bytes of pixels in a {size:,}-byte file"
        )
    table_end = position + 8 * sum(counts)
    if table_end > size:
        raise LayoutError("damaged or truncated EXR pixel data: the chunk table runs past the end of the file")
    multi = bool(flags & _MULTIPART)
    parts = []
    for number, ((attributes, span), kind, count) in enumerate(zip(headers, kinds, counts, strict=True)):
        offsets = struct.unpack_from(f"<{count}Q", data, position)
        position += 8 * count
        part_tiled, deep = tiled or b"tile" in kind, b"deep" in kind
        lead = (4 if multi else 0) + (16 if part_tiled else 4) + (24 if deep else 4)
        for index, offset in enumerate(offsets):
            where = f"chunk {index}" + (f" of part {number}" if multi else "") + f" of {count}"
            if offset < table_end or offset + lead > size:
                raise LayoutError(f"damaged or truncated EXR pixel data: {where} lies outside the file")
            if multi and struct.unpack_from("<i", data, offset)[0] != number:
                raise LayoutError(f"damaged or truncated EXR pixel data: {where} belongs to another part")
            if deep:
                packed = sum(struct.unpack_from("<2q", data, offset + lead - 24))  # offset table and sample data
            else:
                packed = struct.unpack_from("<i", data, offset + lead - 4)[0]
            if packed < 0 or offset + lead + packed > size:
                raise LayoutError(f"damaged or truncated EXR pixel data: {where} runs past the end of the file")
        parts.append(PartLayout(attributes, part_tiled, deep, count, offsets, span))
    return FileLayout(flags, tuple(parts), size)


def single_part(path: str | os.PathLike[str], layout: FileLayout, index: int) -> bytes:
    """Part ``index`` of a multi-part file as a single-part EXR file's bytes, so that only it is decoded.

    The part's header stays as it is (single-part files may carry ``name``, ``type`` and ``chunkCount``); its
    chunks lose their part number and get a new offset table.
    """
    part = layout.parts[index]
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        lead = (16 if part.tiled else 4) + 4  # after the part number: tile coordinates or y, then the packed size
        header = bytes(data[part.header_span[0] : part.header_span[1]]) + b"\0"
        at = 8 + len(header) + 8 * part.chunk_count
        chunks, offsets = [], []
        for offset in part.offsets:
            packed = struct.unpack_from("<i", data, offset + 4 + lead - 4)[0]
            chunk = bytes(data[offset + 4 : offset + 4 + lead + packed])
            offsets.append(at)
            chunks.append(chunk)
            at += len(chunk)
        version = (layout.flags & ~_MULTIPART & ~_DEEP) | (_TILED if part.tiled else 0)
        return b"".join(
            (EXR_MAGIC, struct.pack("<I", version), header, struct.pack(f"<{len(offsets)}Q", *offsets), *chunks)
        )
