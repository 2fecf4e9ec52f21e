"""Which files belong together: the canvases of one DAZ Studio render, grouped by scene name.

DAZ Studio writes each Iray canvas as ``<scene>-<canvas name>-<canvas type>.exr``, e.g.
``portrait-Canvas2-Depth.exr`` and ``portrait-Canvas3-Normal.exr`` (the canvas name is the user's, ``CanvasN`` by
default; the type is Iray's). The render itself is saved as ``portrait.png`` (or ``.jpg``). This module looks only
at names: nothing is opened.

Rules
-----
- ``<scene>-<canvas>-<type>.exr`` is a canvas when the type is one of Iray's canvas types (any case) or the canvas
  name is ``CanvasN``. ``Depth``, ``Normal`` and ``Beauty`` canvases fill a set's parts; other types (``Toon``,
  ``Albedo``...) are kept as the set's ``others``.
- Scene names may hold dashes (``my-scene-Canvas2-Depth.exr``: scene ``my-scene``). A canvas name with dashes is
  found when another file names the scene: a ``CanvasN`` canvas or the render image (``my-scene.png`` makes
  ``my-scene-key-light-Depth.exr`` canvas ``key-light`` of scene ``my-scene``).
- ``<scene>.png`` / ``.jpg`` / ``.jpeg`` is the set's beauty (preferred over a Beauty canvas: it is the render as
  DAZ Studio tone-mapped it). An image whose scene has no canvas among the files is ignored, with the reason.
- Any other ``.exr`` is a depth file of its own: a set with only a depth, named after the file.
- Scene names are compared ignoring case (DAZ Studio runs on Windows and macOS, whose file names ignore case).
- Two files for one part (two Depth canvases of one scene) are a conflict: the set uses the first in canvas-name
  order (``Canvas2`` before ``Canvas10``) and says so in ``conflicts``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

#: The parts of a set, in the order they are reported.
PARTS = ("depth", "normal", "beauty")
#: Iray canvas types besides the three parts, spelled without spaces or underscores, lower case.
OTHER_TYPES = frozenset(
    {
        "albedo",
        "alpha",
        "ambientocclusion",
        "diffuse",
        "distance",
        "emission",
        "environment",
        "glossy",
        "irradiance",
        "irradianceprobe",
        "lpe",
        "materialid",
        "motionvector",
        "objectid",
        "result",
        "shadow",
        "specular",
        "texturecoordinate",
        "toon",
        "translucency",
        "uv",
    }
)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_DEFAULT_CANVAS_NAME = re.compile(r"canvas\d+", re.IGNORECASE)
_DIGITS = re.compile(r"(\d+)")


@dataclass(frozen=True)
class CanvasFile:
    """One file and what its name says.

    Attributes
    ----------
    path:
        The file as given.
    scene:
        The render's name (``portrait`` for ``portrait-Canvas2-Depth.exr`` and for ``portrait.png``).
    canvas:
        The canvas name (``Canvas2``); empty for a file that is not a canvas.
    type:
        The canvas type as written (``Depth``, ``Toon``); empty for a file that is not a canvas.
    kind:
        ``"depth"``, ``"normal"``, ``"beauty"``, ``"other"`` (another canvas type), ``"render"`` (an image named
        after its scene) or ``"unknown"`` (not an EXR, PNG or JPEG).
    """

    path: Path
    scene: str
    canvas: str = ""
    type: str = ""
    kind: str = "depth"

    @property
    def is_canvas(self) -> bool:
        return bool(self.type)


@dataclass(frozen=True)
class CanvasSet:
    """The files of one render: at most one file per part, plus other canvases.

    Attributes
    ----------
    scene:
        The render's name.
    depth, normal, beauty:
        The file used for each part, ``None`` when the set has none. ``beauty`` is the render image when there is
        one, else the Beauty canvas.
    others:
        Canvases of other types, and files left out by a conflict or by the preference for the render image.
    conflicts:
        One sentence per part that had more than one file, naming them and the one used.
    """

    scene: str
    depth: CanvasFile | None = None
    normal: CanvasFile | None = None
    beauty: CanvasFile | None = None
    others: tuple[CanvasFile, ...] = ()
    conflicts: tuple[str, ...] = ()

    @property
    def files(self) -> tuple[CanvasFile, ...]:
        """Every file of the set: the parts in :data:`PARTS` order, then the others."""
        return tuple(f for f in (self.depth, self.normal, self.beauty) if f is not None) + self.others


@dataclass(frozen=True)
class CanvasGrouping:
    """The sets found among some files, in order of scene name, and the files that belong to none."""

    sets: tuple[CanvasSet, ...]
    ignored: tuple[tuple[Path, str], ...] = ()


def _key(scene: str) -> str:
    return scene.casefold()


def _natural(text: str) -> tuple[object, ...]:
    """Sort key: ``Canvas2`` before ``Canvas10``."""
    return tuple(int(p) if p.isdigit() else p.casefold() for p in _DIGITS.split(text))


def _canvas_kind(type_name: str) -> str | None:
    """The kind of a canvas type token, ``None`` when it is not one of Iray's types."""
    word = re.sub(r"[\s_]", "", type_name).lower()
    if word in PARTS:
        return word
    return "other" if word in OTHER_TYPES else None


def canvas_file(path: str | os.PathLike[str]) -> CanvasFile:
    """What a file's name says it is (see the module docstring for the rules); the file is not opened."""
    path = Path(path)
    name = path.name
    suffix = path.suffix.lower()
    if suffix != ".exr" and suffix not in IMAGE_SUFFIXES:
        return CanvasFile(path, name, kind="unknown")
    stem = name[: -len(suffix)]
    pieces = stem.rsplit("-", 2)
    if len(pieces) == 3 and all(pieces):
        scene, canvas, type_name = pieces
        kind = _canvas_kind(type_name)
        if kind is None and _DEFAULT_CANVAS_NAME.fullmatch(canvas):
            kind = "other"
        if kind is not None:
            if suffix != ".exr" and kind != "beauty":
                kind = "other"  # an image saved from a Depth or Normal canvas is not that canvas
            return CanvasFile(path, scene, canvas, type_name, kind)
    return CanvasFile(path, stem, kind="depth" if suffix == ".exr" else "render")


def _rehome(file: CanvasFile, anchors: dict[str, str]) -> CanvasFile:
    """A canvas whose scene no other file names, moved to the longest named scene its name starts with."""
    if _key(file.scene) in anchors:
        return file
    before_type = f"{file.scene}-{file.canvas}"
    best = ""
    for key in anchors:
        if _key(before_type).startswith(key + "-") and len(key) > len(best):
            best = key
    if not best:
        return file
    return CanvasFile(file.path, anchors[best], before_type[len(best) + 1 :], file.type, file.kind)


def _pick(scene: str, part: str, files: list[CanvasFile]) -> tuple[CanvasFile | None, list[CanvasFile], list[str]]:
    """The file used for a part, the ones left over, and the conflict sentence if there was a choice."""
    if not files:
        return None, [], []
    ordered = sorted(files, key=lambda f: (_natural(f.canvas), _natural(f.path.name), str(f.path)))
    if part == "beauty":  # the render image first, PNG before JPEG
        ordered.sort(key=lambda f: (f.kind != "render", f.path.suffix.lower() != ".png"))
    chosen, rest = ordered[0], ordered[1:]
    clashing = [f for f in rest if (f.kind == "render") == (chosen.kind == "render")]
    if not clashing:
        return chosen, rest, []
    names = ", ".join(f.path.name for f in [chosen, *clashing])
    what = "render images" if chosen.kind == "render" else f"{part.capitalize()} canvases"
    return chosen, rest, [f"scene {scene!r} has {1 + len(clashing)} {what} ({names}); using {chosen.path.name}"]


def group_canvases(paths: Iterable[str | os.PathLike[str]]) -> CanvasGrouping:
    """Group files given together into the sets of their renders.

    Parameters
    ----------
    paths:
        Files in any order, from any folders; the same path twice counts once.

    Returns
    -------
    CanvasGrouping
        Sets sorted by scene name (ignoring case), each with its parts and conflicts; files that fit no set
        (unknown types, images without canvases) in ``ignored`` with the reason.
    """
    files = [canvas_file(p) for p in dict.fromkeys(Path(p) for p in paths)]
    anchors: dict[str, str] = {}
    for f in sorted(files, key=lambda f: f.scene):  # one spelling per scene, whatever the order given
        if f.kind == "render" or (f.is_canvas and _DEFAULT_CANVAS_NAME.fullmatch(f.canvas)):
            anchors.setdefault(_key(f.scene), f.scene)
    canvases: dict[str, list[CanvasFile]] = {}
    renders: dict[str, list[CanvasFile]] = {}
    alone: list[CanvasSet] = []
    ignored: list[tuple[Path, str]] = []
    for f in files:
        if f.kind == "unknown":
            ignored.append((f.path, "not an EXR, PNG or JPEG file"))
        elif f.kind == "render":
            renders.setdefault(_key(f.scene), []).append(f)
        elif f.is_canvas:
            f = _rehome(f, anchors)
            canvases.setdefault(_key(f.scene), []).append(f)
        else:
            alone.append(CanvasSet(f.scene, depth=f))
    for key, images in renders.items():
        if key not in canvases:
            ignored.extend((f.path, f"no canvas of a scene named {f.scene!r} among the files") for f in images)
    sets = list(alone)
    for key, members in canvases.items():
        scene = min(f.scene for f in members)
        chosen: dict[str, CanvasFile | None] = {}
        others = [f for f in members if f.kind == "other"]
        conflicts: list[str] = []
        for part in PARTS:
            candidates = [f for f in members if f.kind == part] + (renders.get(key, []) if part == "beauty" else [])
            chosen[part], rest, clash = _pick(scene, part, candidates)
            others.extend(rest)
            conflicts.extend(clash)
        others.sort(key=lambda f: (_natural(f.canvas), _natural(f.path.name), str(f.path)))
        sets.append(
            CanvasSet(scene, chosen["depth"], chosen["normal"], chosen["beauty"], tuple(others), tuple(conflicts))
        )
    sets.sort(key=lambda s: (_key(s.scene), s.scene, str(s.files[0].path) if s.files else ""))
    return CanvasGrouping(tuple(sets), tuple(sorted(ignored, key=lambda item: str(item[0]))))
