"""Opening an EXR file, guarded: what the depth and the vector readers share.

Before anything is decoded the file is checked: a regular file starting with the EXR signature (not another
format with an .exr name), every part's windows within the pixel limit, its layout undamaged
(:mod:`daz_depthmap.exr.layout`). The bindings are imported on first use; a file opens from its path or, for one
part cut out of a multi-part file, from its bytes, the library's printing kept out of our output. One part is
decoded at a time, after checking what its pixels would take in memory. Every part's channels are the candidates
(display name, part, channel) a reader chooses from.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DepthReadError, MissingBindingsError
from .layout import EXR_MAGIC, FileLayout, LayoutError, read_layout, single_part
from .library_output import library_stdout_swallowed

_OTHER_FORMATS = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"GIF8", "a GIF image"),
    (b"RIFF", "a RIFF/WebP file"),
    (b"8BPS", "a Photoshop document"),
    (b"PK\x03\x04", "a ZIP archive"),
)


# --------------------------------------------------------------------------------------------------------------
# Header inspection


@dataclass(frozen=True)
class Part:
    index: int
    name: str
    deep: bool
    data_window: tuple[int, int, int, int]  # xmin, ymin, xmax, ymax (inclusive)
    display_window: tuple[int, int, int, int]
    channels: tuple[str, ...]


def _window(box: Any) -> tuple[int, int, int, int]:
    (xmin, ymin), (xmax, ymax) = box
    return int(xmin), int(ymin), int(xmax), int(ymax)


def _area(window: tuple[int, int, int, int]) -> int:
    xmin, ymin, xmax, ymax = window
    return max(0, xmax - xmin + 1) * max(0, ymax - ymin + 1)


def check_file(path: Path) -> None:
    """The path is a regular, non-empty file starting with the EXR signature (checked before any decoding; a pipe
    or device is refused before it is opened, since reading it could block for ever)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise DepthReadError(path, "file not found") from None
    except OSError as exc:
        raise DepthReadError(path, f"cannot be read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(info.st_mode):
        raise DepthReadError(path, "is a folder, not an EXR file")
    if not stat.S_ISREG(info.st_mode):
        raise DepthReadError(path, "is not a regular file (a pipe, socket or device); give a file on disk")
    if info.st_size == 0:
        raise DepthReadError(path, "the file is empty (0 bytes)")
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
    except OSError as exc:
        raise DepthReadError(path, f"cannot be read ({exc.strerror or exc})") from None
    if head[:4] == EXR_MAGIC:
        return
    for magic, what in _OTHER_FORMATS:
        if head.startswith(magic):
            raise DepthReadError(path, f"not an OpenEXR file: it is {what} with an .exr name")
    raise DepthReadError(path, "not an OpenEXR file (it does not start with the EXR signature 76 2f 31 01)")


def _checked_layout(path: Path) -> FileLayout:
    """The file's layout, checked from its bytes before OpenEXR reads it (damage refused quietly)."""
    try:
        return read_layout(path)
    except LayoutError as exc:
        raise DepthReadError(path, str(exc)) from None
    except OSError as exc:
        raise DepthReadError(path, f"cannot be read ({exc.strerror or exc})") from None


def _bindings() -> Any:
    """OpenEXR's Python bindings (imported on first use, so the package imports where they are missing), with
    their decoding threads in use (3.5 and newer decode on one thread until told otherwise)."""
    try:
        import OpenEXR
    except ImportError:
        raise MissingBindingsError() from None
    counted = getattr(OpenEXR, "global_thread_count", None)
    if callable(counted) and counted() == 0:
        OpenEXR.set_global_thread_count(min(os.cpu_count() or 1, 8))
    return OpenEXR


def open_exr(path: Path | bytes, header_only: bool, name: str = "") -> Any:
    """``OpenEXR.File`` on a path (or a single part's bytes), its printing kept out of our output."""
    OpenEXR = _bindings()
    shown = Path(name or (path if isinstance(path, Path) else "file"))
    try:
        with library_stdout_swallowed():
            if isinstance(path, Path):
                return OpenEXR.File(str(path), separate_channels=True, header_only=header_only)
            return _open_bytes(OpenEXR, path)
    except MissingBindingsError:
        raise
    except Exception as exc:  # the bindings raise RuntimeError, IndexError, ValueError... on damaged files
        what = "header" if header_only else "pixel data"
        detail = str(exc).replace(str(path), shown.name).strip() if isinstance(path, Path) else str(exc).strip()
        detail = detail or type(exc).__name__
        raise DepthReadError(shown, f"damaged or truncated EXR {what} (OpenEXR: {detail})") from None


def _open_bytes(OpenEXR: Any, data: bytes) -> Any:
    """Decode an EXR held in memory: from a stream where the bindings take one (3.5), else from a temporary file."""
    try:
        return OpenEXR.File(io.BytesIO(data), separate_channels=True)
    except TypeError:  # 3.4 takes file names only
        pass
    handle, temp = tempfile.mkstemp(suffix=".exr", prefix="daz_depthmap-part-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        return OpenEXR.File(temp, separate_channels=True)
    finally:
        with contextlib.suppress(OSError):
            os.remove(temp)


def _parts(path: Path, exr: Any) -> list[Part]:
    parts = []
    try:
        for index, part in enumerate(exr.parts):
            header = part.header
            name = str(header.get("name") or part.name() or f"part{index}")
            kind = str(part.type()).lower()
            names = tuple(str(ch.name) for ch in header.get("channels", ()))
            parts.append(
                Part(
                    index, name, "deep" in kind, _window(header["dataWindow"]), _window(header["displayWindow"]), names
                )
            )
    except (KeyError, TypeError, ValueError) as exc:
        raise DepthReadError(path, f"damaged EXR header ({type(exc).__name__}: {exc})") from None
    if not parts:
        raise DepthReadError(path, "the EXR file holds no image part")
    return parts


def qualified(parts: Sequence[Part]) -> list[tuple[str, Part, str]]:
    """(display name, part, channel) for every channel; part names prefix them in multi-part files."""
    multi = len(parts) > 1
    return [(f"{p.name}/{ch}" if multi else ch, p, ch) for p in parts for ch in p.channels]


def _check_size(path: Path, parts: Sequence[Part], max_pixels: int) -> None:
    for part in parts:
        for what, window in (("display window", part.display_window), ("data window", part.data_window)):
            xmin, ymin, xmax, ymax = window
            width, height = xmax - xmin + 1, ymax - ymin + 1
            if width <= 0 or height <= 0:
                if what == "display window":
                    raise DepthReadError(path, f"damaged or truncated EXR header: empty {what} {window}")
                continue
            if width * height > max_pixels:
                raise DepthReadError(
                    path,
                    f"{width}x{height} pixels ({width * height:,}) is above the limit of {max_pixels:,} pixels; "
                    "if the image is real, raise the pixel limit (--max-pixels)",
                )


#: Bytes a part's decoded pixels may take per allowed pixel: 2 float channels (or 4 half ones) of an image at the
#: pixel limit. Files holding more (many channels in one part) need a higher --max-pixels.
DECODED_BYTES_PER_PIXEL = 8


def check_decoded(path: Path, layout: FileLayout, part: Part, max_pixels: int) -> None:
    """Refuse before decoding a part whose pixels (every channel of it) would take too much memory."""
    decoded = layout.parts[part.index].decoded_bytes
    allowed = DECODED_BYTES_PER_PIXEL * max_pixels
    if not part.deep and decoded > allowed:
        which = f"part {part.name!r}" if len(layout.parts) > 1 else "the image"
        raise DepthReadError(
            path,
            f"decoding the {len(part.channels)} channels of {which} would take {decoded / 2**20:,.0f} MiB, above the "
            f"limit of {DECODED_BYTES_PER_PIXEL} bytes per allowed pixel ({allowed / 2**20:,.0f} MiB); if the image "
            "is real, raise the pixel limit (--max-pixels)",
        )


# --------------------------------------------------------------------------------------------------------------
# Channel candidates

Candidate = tuple[str, Part, str]


def decode_part(path: Path, layout: FileLayout, part: Part) -> dict[str, np.ndarray]:
    """The pixels of one part's channels, by name. Only that part is decoded: a part of a multi-part file is cut
    out into a single-part file first (a 50-part file no longer decodes 50 parts to use one).

    Raises
    ------
    DepthReadError
        When the part's pixel data cannot be decoded (the bindings then print a warning and drop the part; it is
        never mistaken for another part).
    """
    if len(layout.parts) > 1:
        exr = open_exr(single_part(path, layout, part.index), header_only=False, name=path.name)
    else:
        exr = open_exr(path, header_only=False)
    parts = list(getattr(exr, "parts", ()))
    if len(parts) != 1:
        label = f"part {part.name!r}" if len(layout.parts) > 1 else "the image"
        raise DepthReadError(path, f"damaged or truncated EXR pixel data: {label} could not be decoded")
    try:
        return {name: np.asarray(channel.pixels) for name, channel in parts[0].channels.items()}
    except Exception as exc:  # damaged data surfacing as any error of the bindings
        raise DepthReadError(path, f"damaged or truncated EXR pixel data ({type(exc).__name__})") from None


def channel_list(candidates: Sequence[Candidate]) -> str:
    names = [c[0] for c in candidates]
    shown = ", ".join(names[:24])
    return shown + (f" and {len(names) - 24} more" if len(names) > 24 else "")


# --------------------------------------------------------------------------------------------------------------


def prepared(path: Path, max_pixels: int) -> tuple[list[Part], FileLayout, Any]:
    """The checks every read makes before decoding: a regular EXR file, its parts within the pixel limit, its
    layout undamaged. Returns the parts, the layout and the header-only file."""
    if max_pixels < 1:
        raise ValueError(f"the pixel limit must be a positive number of pixels, not {max_pixels}")
    check_file(path)
    head = open_exr(path, header_only=True)
    parts = _parts(path, head)
    _check_size(path, parts, max_pixels)
    layout = _checked_layout(path)
    if len(parts) != len(layout.parts):
        raise DepthReadError(path, "damaged or truncated EXR header: the parts do not match the file's layout")
    return parts, layout, head
