"""Reading the depth channel of an OpenEXR file, safely.

Uses the official OpenEXR bindings (``OpenEXR.File``), never OpenCV: cv2 silently drops ``Z`` and other
channels, reads only part 0 and can crash the process on damaged files.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..chunks import pixel_slices
from ..params import DEFAULT_MAX_PIXELS, SENTINEL_DEPTH
from ..printable import shown_name
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


class DepthReadError(Exception):
    """A file could not be read as depth; ``str()`` names the file (quoted if its name holds a line break) and the
    problem, on one line."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = Path(path)
        self.problem = " ".join(problem.split("\n"))
        super().__init__(f"{shown_name(self.path.name)}: {self.problem}")


class MissingBindingsError(ImportError):
    """OpenEXR's Python bindings are not installed for this Python."""

    def __init__(self) -> None:
        super().__init__(
            f"OpenEXR's Python bindings are not installed for this Python ({sys.executable}): run "
            f'`{sys.executable} -m pip install "OpenEXR>=3.3,<4"`, or use the Python of the project\'s .venv '
            "(`.venv/bin/python -m daz_depthmap`, made by `make run` or `make test`)"
        )


class NoDepthChannelError(DepthReadError):
    """No channel looks like depth; ``channels`` lists what the file has, so a caller can offer a choice."""

    def __init__(self, path: str | os.PathLike[str], problem: str, channels: Sequence[str]) -> None:
        super().__init__(path, problem)
        self.channels = tuple(channels)


@dataclass(frozen=True)
class DepthImage:
    """One depth channel, pasted into the display window.

    Attributes
    ----------
    depth:
        float32 array (height, width) of raw depth; only pixels where ``valid`` is true mean anything.
    valid:
        bool array: finite, > 0 and below the 1e9 "no hit" sentinel. Everything else is background.
    channel:
        The channel used, qualified with its part name in multi-part files (``"depth_left/Z"``).
    channels:
        Every channel of the file (same naming), for a channel chooser.
    name:
        The file's name (no folder), for messages and output names.
    notes:
        What the reader did that a user may want to know (window pasting, channel choice).
    """

    depth: np.ndarray
    valid: np.ndarray
    channel: str
    channels: tuple[str, ...] = ()
    name: str = ""
    notes: tuple[str, ...] = field(default=())

    @property
    def height(self) -> int:
        return int(self.depth.shape[0])

    @property
    def width(self) -> int:
        return int(self.depth.shape[1])

    @property
    def invalid_count(self) -> int:
        """Pixels that are background: inf, NaN, <= 0, >= 1e9, or outside the data window."""
        return int(self.valid.size - np.count_nonzero(self.valid))


def valid_depth(depth: np.ndarray) -> np.ndarray:
    """Where ``depth`` is a real distance: finite, > 0 and below the sentinel (NaN compares false)."""
    valid = np.empty(np.shape(depth), bool)
    flat_depth, flat_valid = np.ravel(depth), valid.reshape(-1)
    with np.errstate(invalid="ignore"):
        for part in pixel_slices(flat_valid.size):
            values = flat_depth[part]
            np.logical_and(values > 0, values < SENTINEL_DEPTH, out=flat_valid[part])
    return valid


def depth_image(
    depth: np.ndarray, channel: str = "depth", name: str = "", channels: Sequence[str] = (), notes: Sequence[str] = ()
) -> DepthImage:
    """Wrap an in-memory depth array (any float dtype) as a :class:`DepthImage`."""
    array = np.asarray(depth, dtype=np.float32)
    if array.ndim != 2 or array.size == 0:
        raise ValueError(f"depth must be a non-empty 2-D array, got shape {array.shape}")
    return DepthImage(array, valid_depth(array), channel, tuple(channels) or (channel,), name, tuple(notes))


# --------------------------------------------------------------------------------------------------------------
# Header inspection


@dataclass(frozen=True)
class _Part:
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


def _check_file(path: Path) -> None:
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


def _open(path: Path | bytes, header_only: bool, name: str = "") -> Any:
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


def _parts(path: Path, exr: Any) -> list[_Part]:
    parts = []
    try:
        for index, part in enumerate(exr.parts):
            header = part.header
            name = str(header.get("name") or part.name() or f"part{index}")
            kind = str(part.type()).lower()
            names = tuple(str(ch.name) for ch in header.get("channels", ()))
            parts.append(
                _Part(
                    index, name, "deep" in kind, _window(header["dataWindow"]), _window(header["displayWindow"]), names
                )
            )
    except (KeyError, TypeError, ValueError) as exc:
        raise DepthReadError(path, f"damaged EXR header ({type(exc).__name__}: {exc})") from None
    if not parts:
        raise DepthReadError(path, "the EXR file holds no image part")
    return parts


def _qualified(parts: Sequence[_Part]) -> list[tuple[str, _Part, str]]:
    """(display name, part, channel) for every channel; part names prefix them in multi-part files."""
    multi = len(parts) > 1
    return [(f"{p.name}/{ch}" if multi else ch, p, ch) for p in parts for ch in p.channels]


def _check_size(path: Path, parts: Sequence[_Part], max_pixels: int) -> None:
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


def _check_decoded(path: Path, layout: FileLayout, part: _Part, max_pixels: int) -> None:
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
# Channel choice

_Candidate = tuple[str, _Part, str]


def _named_candidates(candidates: Sequence[_Candidate]) -> tuple[list[_Candidate], str]:
    """The best tier of channels chosen by name alone, and why."""

    def by(pred: Any) -> list[_Candidate]:
        return [c for c in candidates if pred(c[1], c[2])]

    def depthish(part: _Part, ch: str) -> bool:
        return "depth" in ch.lower() or "depth" in part.name.lower()

    for label, found in (
        ("Y channel", by(lambda p, ch: ch == "Y")),
        ("Z channel", by(lambda p, ch: ch == "Z")),
    ):
        if found:
            return sorted(found, key=lambda c: not depthish(c[1], c[2])), label
    zlike = by(lambda p, ch: ch.endswith(".Z") or ch.lower() in ("depth", "z") or ch.lower().endswith(".depth"))
    if zlike:
        return sorted(zlike, key=lambda c: not depthish(c[1], c[2])), "depth-like channel name"
    named = by(depthish)
    if named:
        return named, "'depth' in the name"
    found = by(lambda p, ch: ch == "V")
    if found:
        return found, "V channel"
    return [], ""


def _grey_rgb(path: Path, layout: FileLayout, candidates: Sequence[_Candidate], max_pixels: int) -> _Candidate | None:
    """R of the first part whose R, G and B agree (depth copied into colour channels)."""
    for part in {c[1].index: c[1] for c in candidates}.values():
        if not {"R", "G", "B"} <= set(part.channels):
            continue
        _check_decoded(path, layout, part, max_pixels)
        pixels = _decode_part(path, layout, part)
        r, g, b = (np.asarray(pixels[k], dtype=np.float32) for k in ("R", "G", "B"))
        both = np.isfinite(r) & np.isfinite(g) & np.isfinite(b)
        if not both.any():
            continue
        scale = float(np.max(np.abs(r[both]))) or 1.0
        if max(float(np.max(np.abs(r[both] - g[both]))), float(np.max(np.abs(r[both] - b[both])))) <= 1e-3 * scale:
            return next(c for c in candidates if c[1].index == part.index and c[2] == "R")
    return None


def _decode_part(path: Path, layout: FileLayout, part: _Part) -> dict[str, np.ndarray]:
    """The pixels of one part's channels, by name. Only that part is decoded: a part of a multi-part file is cut
    out into a single-part file first (a 50-part file no longer decodes 50 parts to use one).

    Raises
    ------
    DepthReadError
        When the part's pixel data cannot be decoded (the bindings then print a warning and drop the part; it is
        never mistaken for another part).
    """
    if len(layout.parts) > 1:
        exr = _open(single_part(path, layout, part.index), header_only=False, name=path.name)
    else:
        exr = _open(path, header_only=False)
    parts = list(getattr(exr, "parts", ()))
    if len(parts) != 1:
        label = f"part {part.name!r}" if len(layout.parts) > 1 else "the image"
        raise DepthReadError(path, f"damaged or truncated EXR pixel data: {label} could not be decoded")
    try:
        return {name: np.asarray(channel.pixels) for name, channel in parts[0].channels.items()}
    except Exception as exc:  # damaged data surfacing as any error of the bindings
        raise DepthReadError(path, f"damaged or truncated EXR pixel data ({type(exc).__name__})") from None


def _channel_list(candidates: Sequence[_Candidate]) -> str:
    names = [c[0] for c in candidates]
    shown = ", ".join(names[:24])
    return shown + (f" and {len(names) - 24} more" if len(names) > 24 else "")


# --------------------------------------------------------------------------------------------------------------


def _prepared(path: Path, max_pixels: int) -> tuple[list[_Part], FileLayout, Any]:
    """The checks every read makes before decoding: a regular EXR file, its parts within the pixel limit, its
    layout undamaged. Returns the parts, the layout and the header-only file."""
    if max_pixels < 1:
        raise ValueError(f"the pixel limit must be a positive number of pixels, not {max_pixels}")
    _check_file(path)
    head = _open(path, header_only=True)
    parts = _parts(path, head)
    _check_size(path, parts, max_pixels)
    layout = _checked_layout(path)
    if len(parts) != len(layout.parts):
        raise DepthReadError(path, "damaged or truncated EXR header: the parts do not match the file's layout")
    return parts, layout, head


def read_depth(
    path: str | os.PathLike[str], channel: str | None = None, max_pixels: int = DEFAULT_MAX_PIXELS
) -> DepthImage:
    """Read the depth channel of an EXR file into a display-window-sized float32 array.

    Parameters
    ----------
    path:
        The ``.exr`` file.
    channel:
        Channel to use, by name (``"Z"``) or qualified by part (``"depth_left/Z"``); ``None`` picks one: ``Y``, then
        ``Z``, then ``*.Z``/``*depth*`` names (parts named depth too), then ``V``, then ``R`` when R=G=B, then a lone
        channel.
    max_pixels:
        Refuse images above this many pixels before decoding anything.

    Raises
    ------
    DepthReadError
        For anything wrong with the file: missing, not an EXR, damaged, deep, too large, no usable channel
        (:class:`NoDepthChannelError`, which lists the channels to choose from).
    ValueError
        When ``max_pixels`` is not positive.
    """
    path = Path(path)
    parts, layout, _ = _prepared(path, max_pixels)
    everything = _qualified(parts)
    flat = [c for c in everything if not c[1].deep]
    if not flat:
        raise DepthReadError(
            path, "deep EXR (a list of depth samples per pixel) is not supported: flatten it to one Z value first"
        )
    if channel is not None:
        chosen = [c for c in flat if channel in (c[0], c[2])] or [
            c for c in flat if channel.lower() in (c[0].lower(), c[2].lower())
        ]
        if not chosen:
            raise DepthReadError(path, f"no channel named {channel!r}; channels: {_channel_list(flat)}")
        pick, why = chosen[0], "chosen"
    else:
        tier, why = _named_candidates(flat)
        if tier:
            pick = tier[0]
        else:
            grey = _grey_rgb(path, layout, flat, max_pixels)
            if grey is not None:
                pick, why = grey, "R = G = B"
            elif len(flat) == 1:
                pick, why = flat[0], "the only channel"
            else:
                raise NoDepthChannelError(
                    path,
                    f"no depth channel found (no Y, Z, *.Z, depth or V, and R, G, B differ); channels: "
                    f"{_channel_list(flat)}; choose one explicitly",
                    [c[0] for c in flat],
                )
    label, part, name = pick
    _check_decoded(path, layout, part, max_pixels)
    pixels = _decode_part(path, layout, part).get(name)
    if pixels is None:
        raise DepthReadError(path, f"damaged or truncated EXR pixel data: channel {label!r} could not be decoded")
    if pixels.dtype == object:
        raise DepthReadError(path, f"channel {label!r} holds deep samples, which are not supported")
    depth, notes = _paste(path, pixels.astype(np.float32, copy=False), part)
    notes = [f"channel {label} ({why})", *notes]
    return DepthImage(depth, valid_depth(depth), label, tuple(c[0] for c in flat), path.name, tuple(notes))


def header_attributes(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The attributes of an EXR file's first part, but its channel list (a renderer's camera, ``worldToCamera``);
    empty for a file whose header cannot be read (the read that needs its pixels says why)."""
    path = Path(path)
    try:
        _check_file(path)
        head = _open(path, header_only=True)
        return {str(k): v for k, v in head.parts[0].header.items() if k != "channels"}
    except (DepthReadError, IndexError, AttributeError):
        return {}


def _paste(path: Path, pixels: np.ndarray, part: _Part, fill: float = np.nan) -> tuple[np.ndarray, list[str]]:
    dx0, dy0, dx1, dy1 = part.data_window
    wx0, wy0, wx1, wy1 = part.display_window
    height, width = wy1 - wy0 + 1, wx1 - wx0 + 1
    if pixels.shape != (dy1 - dy0 + 1, dx1 - dx0 + 1):
        raise DepthReadError(
            path, f"channel data is {pixels.shape[1]}x{pixels.shape[0]}, the data window says otherwise (subsampled?)"
        )
    if part.data_window == part.display_window:
        return pixels, []
    canvas = np.full((height, width), fill, dtype=np.float32)
    x0, y0, x1, y1 = max(dx0, wx0), max(dy0, wy0), min(dx1, wx1), min(dy1, wy1)
    if x0 <= x1 and y0 <= y1:
        canvas[y0 - wy0 : y1 - wy0 + 1, x0 - wx0 : x1 - wx0 + 1] = pixels[
            y0 - dy0 : y1 - dy0 + 1, x0 - dx0 : x1 - dx0 + 1
        ]
    note = (
        f"data window {dx1 - dx0 + 1}x{dy1 - dy0 + 1} at ({dx0}, {dy0}) placed in the {width}x{height} display window;"
        " the rest is background"
    )
    return canvas, [note]


# --------------------------------------------------------------------------------------------------------------
# Three-channel canvases: Iray's Normal canvas (vectors) and Beauty canvas (linear colour)

#: The channel endings that make a vector or a colour, in the order x, y, z / r, g, b.
_TRIPLES = (("X", "Y", "Z"), ("R", "G", "B"))
#: What :func:`read_vectors` reads, for its messages: ``kind`` -> (the canvas, the channels it needs).
_VECTOR_KINDS = {
    "normal": ("a Normal canvas", "R, G, B or X, Y, Z"),
    "colour": ("a Beauty canvas", "R, G, B"),
}


@dataclass(frozen=True)
class VectorImage:
    """Three channels of one EXR part, pasted into the display window.

    Attributes
    ----------
    vectors:
        float array (height, width, 3): x, y, z (or r, g, b) per pixel; zero outside the data window, NaN and
        infinities kept as the file holds them. float16 when the file stores half floats (and the data window is the
        display window), else float32.
    channels:
        The three channels used, in order, qualified with the part name in multi-part files.
    attributes:
        The header of the part read (every attribute but the channel list), e.g. ``worldToCamera`` or a focal
        length a renderer wrote.
    name:
        The file's name (no folder), for messages.
    notes:
        What the reader did that a user may want to know (channel choice, window pasting).
    """

    vectors: np.ndarray
    channels: tuple[str, str, str]
    attributes: dict[str, Any]
    name: str = ""
    notes: tuple[str, ...] = ()


def _vector_triples(candidates: Sequence[_Candidate], kind: str) -> list[tuple[_Candidate, _Candidate, _Candidate]]:
    """Every set of three channels of one part and one layer that ends in X, Y, Z or R, G, B, best first.

    For ``kind="normal"``: layers named like a normal (``normal.X``, ``N.X``, a part named normal) first, then the
    bare ``R, G, B``, the bare ``X, Y, Z``, then other layers by name. For ``"colour"`` only R, G, B sets count,
    the bare ones first.
    """
    layers: dict[tuple[int, str], dict[str, _Candidate]] = {}
    for candidate in candidates:
        _, part, name = candidate
        layer, _, ending = name.rpartition(".")
        layers.setdefault((part.index, layer), {})[ending.upper()] = candidate
    found = []
    for (index, layer), by_ending in layers.items():
        for rank, ending in enumerate(_TRIPLES):
            if kind == "colour" and ending != ("R", "G", "B"):
                continue
            if all(e in by_ending for e in ending):
                part = by_ending[ending[0]][1]
                normal_named = "normal" in f"{part.name}.{layer}".lower() or layer.upper() == "N"
                order = (
                    (0 if normal_named and kind == "normal" else 1 if not layer else 2),
                    -rank if not layer and kind == "normal" else rank,  # bare R,G,B before bare X,Y,Z
                    layer,
                    index,
                )
                found.append((order, tuple(by_ending[e] for e in ending)))
    return [triple for _, triple in sorted(found, key=lambda item: item[0])]


def _channel_named(path: Path, flat: Sequence[_Candidate], wanted: str) -> _Candidate:
    """The channel a user named, by name or qualified by part: exact first, then ignoring case."""
    chosen = [c for c in flat if wanted in (c[0], c[2])] or [
        c for c in flat if wanted.lower() in (c[0].lower(), c[2].lower())
    ]
    if not chosen:
        raise DepthReadError(path, f"no channel named {wanted!r}; channels: {_channel_list(flat)}")
    return chosen[0]


def _channel_pixels(path: Path, decoded: dict[str, np.ndarray], candidate: _Candidate) -> np.ndarray:
    """One channel's decoded pixels; DepthReadError for a channel that is damaged or holds deep samples."""
    label, _, name = candidate
    pixels = decoded.get(name)
    if pixels is None:
        raise DepthReadError(path, f"damaged or truncated EXR pixel data: channel {label!r} could not be decoded")
    if pixels.dtype == object:
        raise DepthReadError(path, f"channel {label!r} holds deep samples, which are not supported")
    return pixels


def read_vectors(
    path: str | os.PathLike[str],
    channels: Sequence[str] | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    kind: str = "normal",
) -> VectorImage:
    """Read three channels of an EXR file (a Normal or Beauty canvas) into a display-window-sized array.

    Parameters
    ----------
    path:
        The ``.exr`` file.
    channels:
        Three channel names, in x, y, z (r, g, b) order, by name or qualified by part (``"normals/N.X"``), all from
        one part; ``None`` picks them (see ``kind``).
    max_pixels:
        Refuse images above this many pixels before decoding anything.
    kind:
        ``"normal"``: a vector canvas; a layer named like a normal (``normal.X``, ``N.X``...) first, then ``R, G, B``,
        ``X, Y, Z``, then any other ``LAYER.X/Y/Z`` or ``LAYER.R/G/B``. ``"colour"``: ``R, G, B`` (bare first).

    Raises
    ------
    DepthReadError
        For anything wrong with the file (missing, not an EXR, damaged, deep, too large) and when no three channels
        fit, e.g. "has one channel (Y); a Normal canvas needs three (R, G, B or X, Y, Z)".
    ValueError
        When ``max_pixels`` is not positive, ``kind`` is unknown or ``channels`` does not name three channels.
    """
    path = Path(path)
    if kind not in _VECTOR_KINDS:
        raise ValueError(f"kind must be one of {', '.join(_VECTOR_KINDS)}, not {kind!r}")
    if channels is not None and len(channels) != 3:
        raise ValueError(f"give three channel names (x, y, z or r, g, b), not {len(channels)}")
    parts, layout, head = _prepared(path, max_pixels)
    flat = [c for c in _qualified(parts) if not c[1].deep]
    if not flat:
        raise DepthReadError(path, "deep EXR (a list of samples per pixel) is not supported: flatten it first")
    what, needs = _VECTOR_KINDS[kind]
    if channels is not None:
        picked = [_channel_named(path, flat, wanted) for wanted in channels]
        if len({c[1].index for c in picked}) > 1:
            raise DepthReadError(path, f"channels {', '.join(c[0] for c in picked)} are in different parts")
        triple, why = tuple(picked), "chosen"
    else:
        triples = _vector_triples(flat, kind)
        if not triples:
            names = [c[0] for c in flat]
            have = f"one channel ({names[0]})" if len(names) == 1 else f"channels {_channel_list(flat)}"
            raise DepthReadError(path, f"has {have}; {what} needs three ({needs})")
        triple, why = triples[0], "the first of several sets" if len(triples) > 1 else "the only set of three"
    part = triple[0][1]
    _check_decoded(path, layout, part, max_pixels)
    decoded = _decode_part(path, layout, part)
    planes = []
    window_notes: list[str] = []
    for candidate in triple:
        pixels = _channel_pixels(path, decoded, candidate)
        if pixels.dtype != np.float16:  # half stays half: half the memory, and converted where it is used
            pixels = pixels.astype(np.float32, copy=False)
        plane, window_notes = _paste(path, pixels, part, fill=0.0)
        planes.append(plane)
    labels = tuple(c[0] for c in triple)
    attributes = {k: v for k, v in head.parts[part.index].header.items() if k != "channels"}
    notes = [f"channels {', '.join(labels)} ({why})", *window_notes]
    return VectorImage(np.stack(planes, axis=-1), labels, attributes, path.name, tuple(notes))  # type: ignore[arg-type]
