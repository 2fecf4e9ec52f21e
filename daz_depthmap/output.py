"""PNG encoding, output file names and atomic writes."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

DEPTH_SUFFIX = ".depth.png"
MASK_SUFFIX = ".mask.png"

#: zlib level for PNGs: 1 is several times faster than the default 3 and only a few % larger on depth maps.
PNG_COMPRESSION = 1

_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}


def stem_of(name: str) -> str:
    """``scene.exr`` -> ``scene`` (the ``.exr`` ending in any case; other names unchanged)."""
    return name[:-4] if name.lower().endswith(".exr") else name


def output_paths(source: str | os.PathLike[str], out_dir: str | os.PathLike[str] | None = None) -> tuple[Path, Path]:
    """Where the depth map and mask of ``source`` go: ``name.depth.png``, ``name.mask.png`` beside it or in
    ``out_dir``."""
    source = Path(source)
    folder = Path(out_dir) if out_dir is not None else source.parent
    stem = stem_of(source.name)
    return folder / f"{stem}{DEPTH_SUFFIX}", folder / f"{stem}{MASK_SUFFIX}"


def safe_stem(name: str, fallback: str = "depth") -> str:
    """A file-name stem made from an uploaded file's name that cannot leave its folder.

    Folders (``/``, ``\\``), ``..``, control and shell-hostile characters, leading dots and Windows reserved
    names are removed; the ``.exr`` ending is dropped.
    """
    base = re.split(r"[\\/]", name)[-1]
    base = stem_of(base)
    base = re.sub(r"[^\w.\- ()\[\]+,=@]", "_", base, flags=re.UNICODE)
    base = base.strip(" .")
    base = re.sub(r"\.{2,}", ".", base)[:120].strip(" .")
    if not base or base.split(".")[0].upper() in _WINDOWS_RESERVED:
        base = f"{fallback}_{base}" if base else fallback
    return base


def encode_png(image: np.ndarray) -> bytes:
    """Encode a grey uint8 or uint16 array as PNG bytes."""
    import cv2

    if image.ndim != 2 or image.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"expected a 2-D uint8 or uint16 array, got {image.dtype} {image.shape}")
    ok, data = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, PNG_COMPRESSION])
    if not ok:
        raise OSError("the PNG encoder failed")
    return data.tobytes()


def write_atomic(path: str | os.PathLike[str], data: bytes, protect: Iterable[str | os.PathLike[str]] = ()) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename.

    A reader never sees a half-written file, and a failure leaves no partial output behind. Paths in
    ``protect`` (the inputs) are never overwritten.
    """
    path = Path(path)
    target = path.resolve()
    for other in protect:
        if Path(other).resolve() == target:
            raise OSError(f"refusing to overwrite the input {Path(other).name}")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path


def write_png(path: str | os.PathLike[str], image: np.ndarray, protect: Iterable[str | os.PathLike[str]] = ()) -> Path:
    """Encode and write a PNG atomically (see :func:`write_atomic`)."""
    return write_atomic(path, encode_png(image), protect)


def save_outputs(
    depth: np.ndarray,
    mask: np.ndarray | None,
    depth_path: str | os.PathLike[str],
    mask_path: str | os.PathLike[str],
    protect: Iterable[str | os.PathLike[str]] = (),
) -> list[Path]:
    """Encode the depth map (and mask) first, then write each atomically; returns the paths written."""
    protect = list(protect)
    encoded = [(depth_path, encode_png(depth))]
    if mask is not None:
        encoded.append((mask_path, encode_png(mask)))
    return [write_atomic(path, data, protect) for path, data in encoded]
