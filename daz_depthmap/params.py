"""The processing options, described once: the command line, the tab, the WebUI's settings page and the HTTP API
read their labels, help texts, bounds and defaults from :data:`OPTIONS`, and :class:`DepthParams` carries the values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, Union

#: ``depth_cutoff`` is a number, ``"histo"`` (print advice, no clamp, as in the original tool),
#: ``"auto"`` (use the suggested cutoff) or ``None`` (no clamp: the farthest valid depth is black).
Cutoff = Union[float, Literal["histo", "auto"], None]

#: Depth values at or above this are renderer sentinels for "no hit" (Blender writes 1e10).
SENTINEL_DEPTH = 1e9

#: The largest depth (in size) a cutoff may name: the largest float32, the widest value an EXR's depth holds. Within
#: it the window's width (up to twice this) is still a finite float64; ±1e308 made it overflow into a black map.
MAX_CUTOFF = 3.4028234663852886e38


def cutoff_problem(value: float) -> str | None:
    """Why a number cannot be a cutoff (not finite, or larger in size than :data:`MAX_CUTOFF`), or ``None``."""
    expected = f"expected a depth an EXR can hold (at most {MAX_CUTOFF:.3g} either side of 0)"
    try:
        number = float(value)
    except OverflowError:  # a whole number beyond any float (JSON allows one)
        digits = int(abs(int(value)).bit_length() * math.log10(2)) + 1
        return f"{expected}, got a whole number of about {digits} digits"
    if not math.isfinite(number):
        return f"expected a finite number, got {number}"
    if abs(number) > MAX_CUTOFF:
        return f"{expected}, got {number:g}"
    return None


#: Images larger than this many pixels are refused before decoding (configurable).
DEFAULT_MAX_PIXELS = 100_000_000

BITS = (8, 16)
SEED_MAX = 2**63 - 1

OptionKind = Literal["cutoff", "float", "bool", "int", "choice", "text"]


@dataclass(frozen=True)
class Option:
    """One option as every front end shows it.

    Attributes
    ----------
    name:
        The :class:`DepthParams` field (and the API's key).
    label:
        Short label for the tab and the settings page.
    help:
        One line: the command line's help, the tab's hint, the API schema's description.
    kind:
        ``cutoff`` (a number, ``histo`` or ``auto``), ``float``, ``bool``, ``int`` (within ``minimum``..``maximum``),
        ``choice`` (one of ``choices``) or ``text``.
    default:
        The value when nobody sets it.
    flags:
        The command line's spellings, the original tool's first.
    """

    name: str
    label: str
    help: str
    kind: OptionKind
    default: Any = None
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[Any, ...] = ()
    flags: tuple[str, ...] = ()
    metavar: str | None = None

    def schema(self) -> dict[str, Any]:
        """A JSON-schema fragment for this option (the HTTP API describes its parameters with it)."""
        nullable = self.default is None
        base: dict[str, Any]
        if self.kind == "cutoff":
            base = {"anyOf": [{"type": "number"}, {"enum": ["histo", "auto"]}, {"type": "null"}]}
        elif self.kind == "bool":
            base = {"type": "boolean"}
        elif self.kind == "int":
            base = {"type": ["integer", "null"] if nullable else "integer"}
            base.update({k: v for k, v in (("minimum", self.minimum), ("maximum", self.maximum)) if v is not None})
        elif self.kind == "choice":
            base = {"enum": list(self.choices)}
        elif self.kind == "float":
            base = {"type": ["number", "null"] if nullable else "number"}
        else:
            base = {"type": ["string", "null"] if nullable else "string"}
        return {**base, "title": self.label, "description": self.help, "default": self.default}


OPTIONS: tuple[Option, ...] = (
    Option(
        "depth_cutoff",
        "Far cutoff",
        "clamp depth at N (scene units) before normalising: N and beyond are black; 'histo' prints the 20-bucket "
        "advice and leaves the map unchanged; 'auto' uses the suggested cutoff (the subject's far edge)",
        "cutoff",
        flags=("--depth_cutoff", "--depth-cutoff"),
        metavar="N|histo|auto",
    ),
    Option(
        "near_cutoff",
        "Near cutoff",
        "clamp nearer depth to N: N and nearer are white",
        "float",
        flags=("--near_cutoff", "--near-cutoff"),
        metavar="N",
    ),
    Option(
        "compress_map",
        "Compress map",
        "spread the distinct depths evenly over the levels: empty depth ranges take no grey levels",
        "bool",
        False,
        flags=("--compress_map", "--compress-map"),
    ),
    Option(
        "mask",
        "Mask",
        "also write NAME.mask.png: the subject white, the far plane and the background black",
        "bool",
        False,
        flags=("--mask",),
    ),
    Option(
        "noise",
        "Noise",
        "fill the far plane with random grey levels",
        "bool",
        False,
        flags=("--noise",),
    ),
    Option(
        "seed",
        "Noise seed",
        "seed of the noise (0 or more): the same seed gives the same noise",
        "int",
        None,
        minimum=0,
        maximum=SEED_MAX,
        flags=("--seed",),
        metavar="N",
    ),
    Option("bits", "PNG bits", "bits per pixel of the depth PNG", "choice", 8, choices=BITS, flags=("--bits",)),
    Option(
        "invert",
        "Invert",
        "the input grows toward the camera (disparity, normalised inverse depth)",
        "bool",
        False,
        flags=("--invert",),
    ),
    Option(
        "channel",
        "Channel",
        "channel to read (Z, depth.Z, part/Z in multi-part files); none: picked automatically",
        "text",
        flags=("--channel",),
        metavar="NAME",
    ),
)

#: The options by name.
OPTION: dict[str, Option] = {option.name: option for option in OPTIONS}

#: The reader's size limit, an option of the command line, the app and the WebUI's settings (not of a map).
MAX_PIXELS = Option(
    "max_pixels",
    "Pixel limit",
    "refuse images larger than this many pixels, checked from the header before decoding",
    "int",
    DEFAULT_MAX_PIXELS,
    minimum=1,
    flags=("--max-pixels", "--max_pixels"),
    metavar="N",
)


@dataclass(frozen=True)
class DepthParams:
    """How one depth image becomes a depth map (each field is described in :data:`OPTIONS`).

    Attributes
    ----------
    depth_cutoff:
        Far end of the depth window in scene units; farther values are clamped to it and become black.
    near_cutoff:
        Near end of the window; nearer values are clamped to it and become white. ``None``: the nearest valid
        depth.
    compress_map:
        Rank the distinct depth values and spread them evenly over the output levels (removes empty ranges).
    mask:
        Also produce a mask: far plane (and background) black, everything else white.
    noise:
        Paint random grey levels into the far plane of the depth map (after the mask is taken).
    seed:
        Seed for the noise (0 or more); ``None`` draws a fresh one.
    bits:
        8 or 16 bits per pixel in the depth PNG.
    invert:
        The input grows toward the camera (disparity, normalised inverse depth): larger means nearer.
    channel:
        Explicit channel to read (``"Z"``, ``"depth.Z"``, or ``"part/channel"``); ``None`` picks one.
    """

    depth_cutoff: Cutoff = OPTION["depth_cutoff"].default
    near_cutoff: float | None = OPTION["near_cutoff"].default
    compress_map: bool = OPTION["compress_map"].default
    mask: bool = OPTION["mask"].default
    noise: bool = OPTION["noise"].default
    seed: int | None = OPTION["seed"].default
    bits: int = OPTION["bits"].default
    invert: bool = OPTION["invert"].default
    channel: str | None = OPTION["channel"].default

    def __post_init__(self) -> None:
        if self.bits not in BITS:
            raise ValueError(f"bits must be 8 or 16, not {self.bits}")
        for name in ("depth_cutoff", "near_cutoff"):
            value = getattr(self, name)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                problem = cutoff_problem(value)
                if problem is not None:
                    raise ValueError(f"{name}: {problem}")
        if self.seed is not None and not (0 <= self.seed <= SEED_MAX):
            raise ValueError(f"the noise seed must be a whole number from 0 to 2**63-1, not {self.seed}")
        if isinstance(self.depth_cutoff, str) and self.depth_cutoff not in ("histo", "auto"):
            raise ValueError(f"depth_cutoff must be a number, 'histo' or 'auto', not {self.depth_cutoff!r}")

    @property
    def levels(self) -> int:
        """The brightest output level: 255 for 8-bit, 65535 for 16-bit."""
        return (1 << self.bits) - 1

    def with_(self, **changes: object) -> DepthParams:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)  # type: ignore[arg-type]


def parse_cutoff(text: str | float | None) -> Cutoff:
    """Parse a ``--depth_cutoff`` value: a number, ``histo`` or ``auto``.

    Raises
    ------
    ValueError
        With a message fit for the user when the text is neither.
    """
    if text is None:
        return None
    if isinstance(text, (int, float)):
        problem = cutoff_problem(text)
        if problem is not None:
            raise ValueError(problem)
        value = float(text)
    else:
        word = text.strip().lower()
        if word in ("histo", "auto"):
            return word  # type: ignore[return-value]
        try:
            value = float(word)
        except ValueError:
            raise ValueError(f"expected a number, 'histo' or 'auto', got {text!r}") from None
    problem = cutoff_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def params_from_mapping(values: Mapping[str, Any], base: DepthParams | None = None) -> DepthParams:
    """Options as a JSON object gives them (the HTTP API's ``options``), checked against :data:`OPTIONS`.

    Raises
    ------
    ValueError
        Naming the option and what is wrong: an unknown name, a value of the wrong type or out of bounds.
    """
    changes: dict[str, Any] = {}
    for name, value in values.items():
        option = OPTION.get(name)
        if option is None:
            raise ValueError(f"unknown option {name!r}; the options are {', '.join(OPTION)}")
        changes[name] = _option_value(option, value)
    return (base or DepthParams()).with_(**changes)


def _option_value(option: Option, value: Any) -> Any:
    """``value`` for ``option``, checked (a ValueError names the option)."""
    name, kind = option.name, option.kind
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if value is None and (option.default is None or kind == "cutoff"):
        return None
    if kind == "cutoff":
        if number or isinstance(value, str):
            return parse_cutoff(value)
    elif kind == "bool":
        if isinstance(value, bool):
            return value
    elif kind == "int":
        if number and float(value).is_integer():
            whole = int(value)
            if (option.minimum is None or whole >= option.minimum) and (
                option.maximum is None or whole <= option.maximum
            ):
                return whole
            raise ValueError(f"option {name!r} must be from {option.minimum} to {option.maximum}, not {value!r}")
    elif kind == "choice":
        if value in option.choices and not isinstance(value, bool):
            return value
        choices = ", ".join(repr(c) for c in option.choices)
        raise ValueError(f"option {name!r} must be one of {choices}, not {value!r}")
    elif kind == "float":
        if number:
            problem = cutoff_problem(value) if name in ("depth_cutoff", "near_cutoff") else None
            if problem is not None:
                raise ValueError(f"option {name!r}: {problem}")
            try:
                return float(value)
            except OverflowError:
                raise ValueError(f"option {name!r} must be a finite number, not {value!r}") from None
    elif isinstance(value, str):
        return value
    expected = {"cutoff": "a number, 'histo' or 'auto'", "bool": "true or false", "int": "a whole number"}
    raise ValueError(f"option {name!r} must be {expected.get(kind, 'a number' if kind == 'float' else 'text')}, "
                     f"not {value!r}")  # fmt: skip
