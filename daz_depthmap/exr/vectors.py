"""Reading three channels of an EXR file: Iray's Normal canvas (vectors) and Beauty canvas (linear colour).

:func:`read_vectors` takes the three channels named, or the first set of one part and one layer ending in X, Y, Z or
R, G, B (layers named like a normal first), and pastes them into the display window.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..params import DEFAULT_MAX_PIXELS
from .depth import paste
from .errors import DepthReadError
from .open import Candidate, channel_list, check_decoded, decode_part, prepared, qualified

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


def _vector_triples(candidates: Sequence[Candidate], kind: str) -> list[tuple[Candidate, Candidate, Candidate]]:
    """Every set of three channels of one part and one layer that ends in X, Y, Z or R, G, B, best first.

    For ``kind="normal"``: layers named like a normal (``normal.X``, ``N.X``, a part named normal) first, then the
    bare ``R, G, B``, the bare ``X, Y, Z``, then other layers by name. For ``"colour"`` only R, G, B sets count,
    the bare ones first.
    """
    layers: dict[tuple[int, str], dict[str, Candidate]] = {}
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


def _channel_named(path: Path, flat: Sequence[Candidate], wanted: str) -> Candidate:
    """The channel a user named, by name or qualified by part: exact first, then ignoring case."""
    chosen = [c for c in flat if wanted in (c[0], c[2])] or [
        c for c in flat if wanted.lower() in (c[0].lower(), c[2].lower())
    ]
    if not chosen:
        raise DepthReadError(path, f"no channel named {wanted!r}; channels: {channel_list(flat)}")
    return chosen[0]


def _channel_pixels(path: Path, decoded: dict[str, np.ndarray], candidate: Candidate) -> np.ndarray:
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
    parts, layout, head = prepared(path, max_pixels)
    flat = [c for c in qualified(parts) if not c[1].deep]
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
            have = f"one channel ({names[0]})" if len(names) == 1 else f"channels {channel_list(flat)}"
            raise DepthReadError(path, f"has {have}; {what} needs three ({needs})")
        triple, why = triples[0], "the first of several sets" if len(triples) > 1 else "the only set of three"
    part = triple[0][1]
    check_decoded(path, layout, part, max_pixels)
    decoded = decode_part(path, layout, part)
    planes = []
    window_notes: list[str] = []
    for candidate in triple:
        pixels = _channel_pixels(path, decoded, candidate)
        if pixels.dtype != np.float16:  # half stays half: half the memory, and converted where it is used
            pixels = pixels.astype(np.float32, copy=False)
        plane, window_notes = paste(path, pixels, part, fill=0.0)
        planes.append(plane)
    labels = tuple(c[0] for c in triple)
    attributes = {k: v for k, v in head.parts[part.index].header.items() if k != "channels"}
    notes = [f"channels {', '.join(labels)} ({why})", *window_notes]
    return VectorImage(np.stack(planes, axis=-1), labels, attributes, path.name, tuple(notes))  # type: ignore[arg-type]
