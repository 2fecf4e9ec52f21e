"""PNG encoding, and writing files atomically and sets of files all or nothing (output names are in
:mod:`daz_depthmap.output.names`)."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import struct
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
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
#: Bytes handed to one ``os.write`` call.
_WRITE_BYTES = 1 << 24


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


class NameTakenError(FileExistsError):
    """A set not written because a name it needs is another's: a file it may not replace is there, or another
    writer took a free name first (what was written of the set was taken back)."""


class SetNotWrittenError(OSError):
    """A set of files that could not be written; its message names the file that failed, why, and what became of
    every file of the set. ``errno`` is the failure's (28 for a full disk)."""

    def __init__(self, message: str, cause: BaseException | None = None) -> None:
        super().__init__(message)
        self.errno = getattr(cause, "errno", None)


#: Replacing a file in place when a set is written: ``None`` lets any file be replaced; a function says which
#: existing files may be (any other is refused, and new names are then created exclusively).
MayReplace = Callable[[Path], bool] | None


def write_atomic(path: str | os.PathLike[str], data: bytes, protect: Iterable[str | os.PathLike[str]] = ()) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename (see :func:`write_set`).

    A reader never sees a half-written file, and a failure leaves no partial output behind. Paths in
    ``protect`` (the inputs) are never overwritten. The temporary name is short whatever the final name, so any
    name the file system takes can be written; one it refuses is said in words.
    """
    return write_set([(path, data)], protect)[0]


def write_set(
    files: Sequence[tuple[str | os.PathLike[str], bytes]],
    protect: Iterable[str | os.PathLike[str]] = (),
    may_replace: MayReplace = None,
) -> list[Path]:
    """Write ``files`` (``(path, data)``) as one set: all of them, or none (the folder left as it was).

    Every file is first written to a short-named temporary file beside its target; only when all are written
    are they renamed into place, each existing target first kept aside (a hard link, or a rename where the file
    system has none). When anything fails — a full disk, a name the file system refuses, an interrupt — the new
    files are taken away again and the kept ones put back; then :class:`SetNotWrittenError` names the file that
    failed and what became of the others (an interrupt is raised again as it came).

    Paths in ``protect`` (the inputs) are never overwritten. ``may_replace`` says which existing files may be
    replaced (``None``: any); with it, any other existing target refuses the whole set with
    :class:`NameTakenError` before anything is written, and names that are free are taken exclusively: a file
    another writer creates there meanwhile is never replaced (:class:`NameTakenError` then too, after the set was
    taken back).
    """
    targets = [Path(path) for path, _ in files]
    _refuse_protected(targets, protect)
    existed: set[Path] = set()
    temps: list[Path] = []
    steps: list[_Step] = []
    current = targets[0] if targets else Path()
    try:
        for target in targets:
            current = target
            if os.path.isdir(target) and not os.path.islink(target):
                raise IsADirectoryError(errno.EISDIR, "a folder has this name", str(target))
            if _exists(target):
                existed.add(target)
                if may_replace is not None and not may_replace(target):
                    raise NameTakenError(errno.EEXIST, "another's file has this name", str(target))
        for target, (_, data) in zip(targets, files, strict=True):
            current = target
            target.parent.mkdir(parents=True, exist_ok=True)
            temps.append(_write_temp(target, data))
        for target, temp in zip(targets, temps, strict=True):
            current = target
            steps.append(_publish(target, temp, exclusive=may_replace is not None))
    except BaseException as exc:
        stuck = _take_back(steps)
        for temp in temps:
            _discard(temp)
        if not isinstance(exc, OSError) or isinstance(exc, NameTakenError) and not stuck:
            raise
        raise SetNotWrittenError(_set_message(targets, existed, current, exc, stuck), exc) from None
    for step in steps:
        if step.kept is not None:
            _discard(step.kept)
    return targets


def _exists(path: Path) -> bool:
    """Whether anything (a broken symbolic link too) has this name; a name the file system refuses raises."""
    try:
        os.lstat(path)
    except FileNotFoundError:
        return False
    return True


def _refuse_protected(targets: Sequence[Path], protect: Iterable[str | os.PathLike[str]]) -> None:
    protected = {Path(other).resolve(): Path(other).name for other in protect}
    for target in targets:
        name = protected.get(target.resolve())
        if name is not None:
            raise OSError(f"refusing to overwrite the input {name}")


def _write_temp(target: Path, data: bytes) -> Path:
    """``data`` in a new temporary file beside ``target`` (created like any new file: 0666 less the umask, unlike
    mkstemp's 0600; O_EXCL: never an existing file)."""
    temp = target.with_name(f".dazdm-{secrets.token_hex(6)}.tmp")
    handle = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(handle, view[:_WRITE_BYTES]) :]
    except BaseException:
        os.close(handle)
        _discard(temp)
        raise
    os.close(handle)
    return temp


@dataclass(frozen=True)
class _Step:
    """A file renamed into place, and where the file it replaced is kept until the whole set is in place."""

    target: Path
    kept: Path | None


def _publish(target: Path, temp: Path, exclusive: bool) -> _Step:
    """Rename ``temp`` to ``target``; an existing target is kept aside first (to be put back on failure)."""
    if not os.path.lexists(target):
        _place_new(temp, target) if exclusive else os.replace(temp, target)
        return _Step(target, None)
    kept = target.with_name(f".dazdm-{secrets.token_hex(6)}.old")
    if _link(target, kept):  # the target stays in place until the new one replaces it
        try:
            os.replace(temp, target)
        except BaseException:
            _discard(kept)
            raise
        return _Step(target, kept)
    os.rename(target, kept)  # no hard links here: moved aside a moment
    try:
        _place_new(temp, target) if exclusive else os.replace(temp, target)
    except BaseException:
        os.replace(kept, target)
        raise
    return _Step(target, kept)


def _link(source: Path, link: Path) -> bool:
    """Make ``link`` a hard link to ``source`` (a symbolic link itself, not what it points to); ``False`` where
    the file system or platform has no hard links."""
    try:
        if source.is_symlink():
            if os.link not in os.supports_follow_symlinks:
                return False
            os.link(source, link, follow_symlinks=False)
        else:
            os.link(source, link)
    except (OSError, NotImplementedError) as exc:
        if isinstance(exc, FileExistsError):
            raise
        return False
    return True


def _place_new(temp: Path, target: Path) -> None:
    """Rename ``temp`` to ``target``, which must not exist (:class:`NameTakenError` when it does by now)."""
    try:
        if _link(temp, target):
            _discard(temp)
            return
        if os.name == "nt":
            os.rename(temp, target)  # never replaces on Windows
            return
        # a POSIX file system without hard links: an empty file claims the name, then the data replaces it
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except FileExistsError:
        raise NameTakenError(errno.EEXIST, "another writer took this name meanwhile", str(target)) from None
    try:
        os.replace(temp, target)
    except BaseException:
        _discard(target)
        raise


def _take_back(steps: Sequence[_Step]) -> dict[Path, str]:
    """Undo ``steps``, last first: new files removed, kept files put back. Returns what could not be undone."""
    stuck: dict[Path, str] = {}
    for step in reversed(steps):
        try:
            if step.kept is not None:
                os.replace(step.kept, step.target)
            else:
                step.target.unlink()
        except OSError as exc:
            reason = exc.strerror or str(exc)
            stuck[step.target] = (
                f"written, its earlier version left as {step.kept.name} ({reason})"
                if step.kept is not None
                else f"written and could not be taken back ({reason})"
            )
    return stuck


def _discard(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def _set_message(
    targets: Sequence[Path], existed: set[Path], failed: Path, exc: OSError, stuck: dict[Path, str]
) -> str:
    """What went wrong writing a set, and what became of each of its files."""
    if _name_too_long(exc):
        size = len(failed.name.encode("utf-8", errors="surrogateescape"))
        length = f"{len(failed.name)} characters" + (f", {size} bytes" if size != len(failed.name) else "")
        problem = (
            f"the output name {failed.name!r} ({length}) is too long for this file system; shorten the input's name"
        )
    elif isinstance(exc, NameTakenError):
        problem = f"{failed.name} was created by another writer meanwhile"
    else:
        problem = f"could not write {failed.name}: {exc.strerror or exc}"
    if len(targets) == 1 and not stuck:
        return problem + (f"; {failed.name} is as it was" if failed in existed else "")
    if not stuck:
        kept = [t.name for t in targets if t in existed]
        new = [t.name for t in targets if t not in existed]
        said = [f"not written: {', '.join(new)}"] if new else []
        said += [f"as they were: {', '.join(kept)}"] if kept else []
        return f"{problem}; nothing of the set was written ({'; '.join(said)})"
    written = [f"{target.name} {state}" for target, state in stuck.items()]
    others = [t.name for t in targets if t not in stuck]
    rest = f"; not written or put back as they were: {', '.join(others)}" if others else ""
    return f"{problem}; the set could not be taken back whole: {'; '.join(written)}{rest}"


def _name_too_long(exc: OSError) -> bool:
    """ENAMETOOLONG, or Windows' "file name too long" (206) / invalid-name (123) errors."""
    return exc.errno == errno.ENAMETOOLONG or getattr(exc, "winerror", None) in (206, 123)


def write_png(path: str | os.PathLike[str], image: np.ndarray, protect: Iterable[str | os.PathLike[str]] = ()) -> Path:
    """Encode and write a PNG atomically (see :func:`write_atomic`)."""
    return write_atomic(path, encode_png(image), protect)


def save_outputs(
    outputs: Iterable[tuple[str | os.PathLike[str], np.ndarray]],
    protect: Iterable[str | os.PathLike[str]] = (),
    may_replace: MayReplace = None,
) -> list[Path]:
    """Encode every ``(path, image)``, then write them as one set, all or nothing (see :func:`write_set`); returns
    the paths written. A failure to encode, to write or to rename any of them leaves the folder as it was."""
    encoded = [(path, encode_png(image)) for path, image in outputs]
    return write_set(encoded, protect, may_replace)


#: :func:`write_set_named` tries the stem, then ``stem-2`` ... ``stem-N`` up to this N.
MAX_STEM_NUMBER = 999


def write_set_named(
    folder: str | os.PathLike[str],
    stem: str,
    files: Sequence[tuple[str, bytes]],
    protect: Iterable[str | os.PathLike[str]],
    may_replace: Callable[[Path], bool],
) -> list[Path]:
    """Write ``files`` (``(suffix, data)``) into ``folder`` as one set named ``stem`` + suffix, replacing no file
    but those ``may_replace`` allows: under the first of ``stem``, ``stem-2``, ``stem-3``, ... whose names are all
    free or replaceable. Names are taken exclusively (see :func:`write_set`): when another writer takes one
    first, the set goes to the next stem. Returns the paths written."""
    folder = Path(folder)
    protect = list(protect)
    for number in range(1, MAX_STEM_NUMBER + 1):
        name = stem if number == 1 else f"{stem}-{number}"
        paths = [folder / f"{name}{suffix}" for suffix, _ in files]
        try:
            if any(_exists(path) and not may_replace(path) for path in paths):
                continue
        except OSError:
            pass  # a name the file system refuses: write_set says so in words
        try:
            return write_set([(path, data) for path, (_, data) in zip(paths, files, strict=True)], protect,
                             may_replace)  # fmt: skip
        except NameTakenError:
            continue
    raise OSError(f"{stem}: the names {stem}, {stem}-2 ... {stem}-{MAX_STEM_NUMBER} are all taken in {folder}")


def save_outputs_named(
    folder: str | os.PathLike[str],
    stem: str,
    outputs: Iterable[tuple[str, np.ndarray]],
    protect: Iterable[str | os.PathLike[str]],
    may_replace: Callable[[Path], bool],
) -> list[Path]:
    """Encode every ``(suffix, image)``, then write them as one set with :func:`write_set_named`."""
    encoded = [(suffix, encode_png(image)) for suffix, image in outputs]
    return write_set_named(folder, stem, encoded, protect, may_replace)
