"""Frames of an image series: which items of a batch are one sequence, in frame order.

How DAZ Studio names the frames of an image series is not confirmed here (the facts gathered for issue 20 cover
one render's canvases: ``DIR/NAME.png`` and ``DIR/NAME_canvases/NAME-CANVAS-TYPE.exr``). The rule assumed is the
issue's: frame ``N`` of a series saved as ``NAME`` is ``NAME_NNN`` (an underscore and the zero-padded frame
number), its canvases ``NAME_NNN-CANVAS-TYPE.exr``. So a sequence is two or more stems (scene names of canvas sets,
or names of plain depth files without ``.exr``) that are ``NAME_`` followed by digits, with the same ``NAME`` and
the same number of digits (at most six: a longer number is an id, not a frame). Numbered names of another form
(``NAME001``, ``NAME.001``, ``NAME-001``) are not grouped, and :func:`unrecognised_series` names them, so that a
different layout shows as a clear message rather than as frames that quietly flicker.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

#: ``NAME_NNN``: the frame of an image series (see the module's text).
FRAME = re.compile(r"^(?P<name>.+)_(?P<number>\d{1,6})$")
#: A name ending in a number in another way: ``NAME001``, ``NAME.001``, ``NAME-001``, ``NAME 001``.
OTHER_NUMBERED = re.compile(r"^(?P<name>.*?[^\d_])[.\- ]?(?P<number>\d{2,6})$")


@dataclass(frozen=True)
class FrameSequence:
    """Frames of one series: ``name`` (``NAME_###``, the digits as hashes) and the positions of its frames among
    the stems given, in frame order (the first is the frame whose settings the others take)."""

    name: str
    positions: tuple[int, ...]
    numbers: tuple[int, ...]


def frame_of(stem: str) -> tuple[str, int, int] | None:
    """``(NAME, frame number, digits)`` of a ``NAME_NNN`` stem, else ``None``."""
    found = FRAME.match(stem)
    if found is None:
        return None
    return found["name"], int(found["number"]), len(found["number"])


def group_frames(stems: Sequence[str]) -> list[FrameSequence]:
    """The sequences among ``stems`` (two or more frames of one ``NAME`` and padding), in the order of their first
    stem given; each in frame number order (a frame given twice is kept once, at its first place)."""
    groups: dict[tuple[str, int], dict[int, int]] = {}
    for position, stem in enumerate(stems):
        frame = frame_of(stem)
        if frame is not None:
            name, number, digits = frame
            groups.setdefault((name.casefold(), digits), {}).setdefault(number, position)
    sequences = []
    for (_, digits), frames in groups.items():
        if len(frames) < 2:
            continue
        numbers = sorted(frames)
        first = frame_of(stems[frames[numbers[0]]])
        assert first is not None
        sequences.append(FrameSequence(f"{first[0]}_{'#' * digits}", tuple(frames[n] for n in numbers),
                                       tuple(numbers)))  # fmt: skip
    return sorted(sequences, key=lambda sequence: min(sequence.positions))


def unrecognised_series(stems: Sequence[str]) -> list[str]:
    """Names that look like numbered frames of another form than ``NAME_NNN`` (two or more with one ``NAME``),
    shown as ``NAME###``: they are mapped each on its own, which a series would not want."""
    counts: dict[tuple[str, str, int], int] = {}
    for stem in stems:
        if frame_of(stem) is not None:
            continue
        found = OTHER_NUMBERED.match(stem)
        if found is not None:
            separator = stem[len(found["name"]) : -len(found["number"])]
            key = (found["name"], separator, len(found["number"]))
            counts[key] = counts.get(key, 0) + 1
    return [f"{name}{separator}{'#' * digits}" for (name, separator, digits), count in counts.items() if count > 1]
