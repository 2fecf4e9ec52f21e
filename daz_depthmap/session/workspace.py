"""One user's files in the tab: the loaded files in order, each with its own options, and which one is shown.

Plain Python, no gradio. Every change goes through a method here under one lock, and what a handler renders is a
:class:`Shown` snapshot (file, options, view number) taken under that lock, so two events of one session running at
once (the live preview and an option change, or a file switch) never mix one file's options with another's.

The view number grows whenever the page must show a different file view (another file, a new channel, inverted
input): live cutoff requests carry the number of the view they were made in, and one made in an older view is
refused instead of moving the cutoffs of the file shown now.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..canvas.normals.options import NormalOptions
from ..canvas.sets import canvas_file, group_canvases
from ..depth.mapping import DepthStats, depth_window
from ..exr import DepthImage, DepthReadError, NoDepthChannelError, read_depth
from ..output.names import StemClaims, safe_stem
from ..output.owned import OwnedFiles
from ..params import DEFAULT_MAX_PIXELS, DepthParams
from ..render.recipe import Recipe
from .banding import LOOKS, BandSettings, LevelMode
from .canvas_set import SetPart, SetParts, SetPreviews
from .loaded import PREVIEW_SIDE, FullRender, LoadedFile, PixelInfo, Preview, round_to_step

log = logging.getLogger(__name__)

#: Messages a session keeps to be read again (the newest ones).
LOG_LINES = 200

#: A file without a recognisable depth channel: at most this many of its channels are tried for valid depth.
MAX_CHANNEL_TRIES = 8


class StaleViewError(ValueError):
    """A request made for a file view the page no longer shows (another file, or the same file reset since)."""


@dataclass(frozen=True)
class Shown:
    """A consistent snapshot of the file shown: the file, its options, its output stem, the view number, its
    bands and what the preview shows."""

    file: LoadedFile
    params: DepthParams
    stem: str
    view: int
    bands: BandSettings = field(default_factory=BandSettings)
    look: str = "depth"
    parts: SetParts = field(default_factory=SetParts)
    normal: NormalOptions = field(default_factory=NormalOptions)
    previews: SetPreviews = field(default_factory=SetPreviews)
    #: the output files the session's files wrote: a file's Save may replace its own earlier files, no others
    owned: OwnedFiles = field(default_factory=OwnedFiles, compare=False)

    @property
    def has_normals(self) -> bool:
        """The set has a Normal canvas, or its normals are to be computed from the depth."""
        return self.parts.normal is not None or self.normal.from_depth

    def render_preview(self) -> Preview:
        """The preview of this snapshot."""
        return self.file.render_preview(self.params, self.bands, self.look)

    def render_full(self) -> FullRender:
        """The full-resolution outputs of this snapshot (the file is read again)."""
        return self.file.render_full(self.params, self.bands)


@dataclass(frozen=True)
class LoadResult:
    """Keys of the files that loaded, one message per file that did not, and warnings about loaded ones."""

    loaded: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    joined: list[str] = field(default_factory=list)  # "scene-Canvas3-Normal.exr → scene": parts that joined a set


def settle_cutoffs(stats: DepthStats, params: DepthParams, kept: DepthParams | None = None) -> DepthParams:
    """The cutoffs of ``params`` as stored: at or beyond the ends of the valid range they mean "no cutoff".

    A cutoff equal to ``kept``'s is stored as it is: a recipe's cutoffs beyond the valid range stay exact (every
    frame gets the same window) until the user moves them.

    Raises
    ------
    ValueError
        When the near cutoff is not nearer than the far end of the window (the message says so).
    """
    far, near = params.depth_cutoff, params.near_cutoff
    nearest, farthest = (stats.farthest, stats.nearest) if params.invert else (stats.nearest, stats.farthest)
    beyond = (lambda a, b: a >= b) if not params.invert else (lambda a, b: a <= b)
    if isinstance(far, (int, float)) and beyond(far, farthest) and (kept is None or far != kept.depth_cutoff):
        far = None
    if near is not None and beyond(nearest, near) and (kept is None or near != kept.near_cutoff):
        near = None
    settled = params.with_(depth_cutoff=far, near_cutoff=near)
    depth_window(stats, settled.depth_cutoff, settled.near_cutoff, settled.invert)  # type: ignore[arg-type]
    return settled


class Workspace:
    """The files one user has loaded, in order, each with its options, and which one is shown.

    Parameters
    ----------
    defaults:
        Options every new file starts with. ``depth_cutoff``: a number is used as is; ``"auto"`` or ``None``
        start at the suggested cutoff (the full range when there is none); ``"histo"`` starts at the full range.
    max_pixels:
        Larger images are refused before decoding.
    preview_side:
        Long side of the preview copies.
    seed_source:
        Draws the noise seed of a new file when ``defaults.seed`` is ``None`` (so preview and output match).
    """

    def __init__(
        self,
        defaults: DepthParams | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        preview_side: int = PREVIEW_SIDE,
        seed_source: np.random.Generator | None = None,
    ) -> None:
        self.defaults = defaults or DepthParams()
        self.max_pixels = max_pixels
        self.preview_side = preview_side
        self._files: list[LoadedFile] = []
        self._params: dict[str, DepthParams] = {}
        self._bands: dict[str, BandSettings] = {}
        self._parts: dict[str, SetParts] = {}
        self._normal: dict[str, NormalOptions] = {}
        self._previews: dict[str, SetPreviews] = {}
        self._look = "depth"
        self._stems = StemClaims()
        self._owned = OwnedFiles()
        self._current: str | None = None
        self._view = 0
        self._rng = seed_source or np.random.default_rng()
        self._log: deque[str] = deque(maxlen=LOG_LINES)
        self._lock = threading.RLock()

    # ----------------------------------------------------------------------------------------------------------
    # Reading

    @property
    def files(self) -> list[LoadedFile]:
        with self._lock:
            return list(self._files)

    @property
    def keys(self) -> list[str]:
        return [f.key for f in self.files]

    @property
    def current_key(self) -> str | None:
        return self._current

    @property
    def view(self) -> int:
        return self._view

    @property
    def look(self) -> str:
        """What the previews show: "depth", "test" (the bands' test colours) or "regions"."""
        return self._look

    @property
    def nbytes(self) -> int:
        """Memory held by the loaded files' arrays and their sets' previews."""
        with self._lock:
            previews = sum(p.nbytes for p in self._previews.values())
        return sum(f.nbytes for f in self.files) + previews

    @property
    def log(self) -> list[str]:
        """This session's messages (load problems, warnings, what was written), oldest first."""
        with self._lock:
            return list(self._log)

    def note(self, lines: Iterable[str]) -> None:
        """Keep messages to be read again, stamped with the time."""
        stamp = time.strftime("%H:%M:%S")
        with self._lock:
            self._log.extend(f"{stamp} {line}" for line in lines)

    def draw_seed(self) -> int:
        """A new noise seed (kept per file, so a preview and its PNG get the same noise)."""
        with self._lock:
            return int(self._rng.integers(0, 2**31 - 1))

    def get(self, key: str) -> LoadedFile:
        with self._lock:
            found = next((f for f in self._files if f.key == key), None)
        if found is None:
            raise ValueError(f"no loaded file is called {key!r}")
        return found

    def params(self, key: str) -> DepthParams:
        with self._lock:
            return self._params[self.get(key).key]

    def stem(self, key: str) -> str:
        """The output stem of a loaded file (unique among this workspace's files): a set's scene name, else the
        file's."""
        with self._lock:
            entry = self.get(key)
            return self._stems.claim(safe_stem(self._stem_name(entry)), entry.key)

    def _stem_name(self, entry: LoadedFile) -> str:
        scene = self._parts[entry.key].scene if entry.key in self._parts else None
        return f"{scene}.exr" if scene else entry.name

    def shown(self) -> Shown | None:
        """The file shown, its options, stem and the view number, taken together; ``None`` when nothing is loaded."""
        with self._lock:
            if self._current is None:
                return None
            entry = self.get(self._current)
            return self._snapshot(entry)

    def _snapshot(self, entry: LoadedFile) -> Shown:
        key = entry.key
        return Shown(
            entry,
            self._params[key],
            self.stem(key),
            self._view,
            self._bands[key],
            self._look,
            self._parts[key],
            self._normal[key],
            self._previews[key],
            self._owned,
        )

    def require_shown(self) -> Shown:
        """:meth:`shown`, or ``ValueError`` with a message for the user when nothing is loaded."""
        shown = self.shown()
        if shown is None:
            raise ValueError("no file loaded: drop one or more depth .exr files above first")
        return shown

    def everything(self) -> list[Shown]:
        """A snapshot of every file with its options and stem (for Process all)."""
        with self._lock:
            return [self._snapshot(f) for f in self._files]

    def protected(self) -> list[Path]:
        """The files outputs must never overwrite: every loaded input, the parts of sets included."""
        with self._lock:
            parts = [p.path for parts in self._parts.values() for p in parts.files]
        return [f.source for f in self.files] + parts

    def parts(self, key: str) -> SetParts:
        with self._lock:
            return self._parts[self.get(key).key]

    # ----------------------------------------------------------------------------------------------------------
    # Loading

    def _unique_key(self, name: str) -> str:
        taken = set(self.keys)
        if name not in taken:
            return name
        number = 2
        while f"{name} ({number})" in taken:
            number += 1
        return f"{name} ({number})"

    def _initial_params(self, entry: LoadedFile, channel: str | None) -> DepthParams:
        defaults = self.defaults
        suggestion = entry.suggestion(defaults.invert)
        cutoff: float | None
        if isinstance(defaults.depth_cutoff, (int, float)):
            cutoff = float(defaults.depth_cutoff)
        elif defaults.depth_cutoff == "histo":
            cutoff = None
        elif suggestion.cutoff is not None:  # rounded as the slider shows it, so preview and slider agree
            cutoff = round_to_step(suggestion.cutoff, entry.step / 10)
        else:
            cutoff = None
        seed = defaults.seed if defaults.seed is not None else self.draw_seed()
        params = defaults.with_(depth_cutoff=cutoff, near_cutoff=defaults.near_cutoff, seed=seed, channel=channel)
        try:
            return settle_cutoffs(entry.stats, params)
        except ValueError:  # a default near cutoff that does not fit this file is dropped
            return settle_cutoffs(entry.stats, params.with_(near_cutoff=None))

    def _read(self, path: Path, name: str, channel: str | None) -> DepthImage:
        image = read_depth(path, channel, self.max_pixels)
        if name and name != image.name:
            image = DepthImage(image.depth, image.valid, image.channel, image.channels, name, image.notes)
        return image

    def _open(self, key: str, path: Path, name: str, uploaded: bool) -> tuple[LoadedFile, str | None]:
        """The loaded file and a warning (a file without a recognisable depth channel is shown on another)."""
        try:
            image = self._read(path, name, self.defaults.channel)
            return LoadedFile(key, path, image, self.preview_side, self.max_pixels, uploaded), None
        except NoDepthChannelError as problem:
            red = [c for c in problem.channels if c == "R" or c.endswith((".R", "/R"))]
            for channel in [*red, *(c for c in problem.channels if c not in red)][:MAX_CHANNEL_TRIES]:
                try:
                    image = self._read(path, name, channel)
                    warning = (
                        f"no depth channel recognised; showing {image.channel} — pick the depth channel in the "
                        "Channel menu"
                    )
                    image = DepthImage(
                        image.depth, image.valid, image.channel, image.channels, image.name, (warning, *image.notes)
                    )
                    return LoadedFile(key, path, image, self.preview_side, self.max_pixels, uploaded), warning
                except DepthReadError:
                    continue  # no valid depth in this channel: try the next
            raise

    def load(self, sources: Iterable[Any]) -> LoadResult:
        """Load files in order; a file that fails gives a message and the others still load.

        ``sources`` are paths or ``(path, shown name)`` pairs (an upload's path and its original name). Files named
        like the canvases of one DAZ Studio render (``scene-Canvas2-Depth.exr``, ``scene-Canvas3-Normal.exr``,
        ``scene.png``) become one entry, keyed and named by the scene, shown by its depth; a Normal canvas or render
        image whose scene is already loaded joins it. The first entry loaded becomes the one shown. A file without
        a recognisable depth channel is shown on its R channel (or its first one) with a warning.
        """
        result = LoadResult()
        given: dict[Path, tuple[Path, bool]] = {}  # the name a file is known by -> (where it is, uploaded)
        for source in sources:
            uploaded = isinstance(source, tuple)
            path, name = (Path(source[0]), source[1]) if uploaded else (Path(source), "")
            known = Path(name or path.name) if uploaded else path
            given.setdefault(known, (path, uploaded))
        grouping = group_canvases(given)
        order = {known: i for i, known in enumerate(given)}
        items: list[tuple[int, Any]] = [(order[known], (known, reason)) for known, reason in grouping.ignored]
        items += [(min(order[f.path] for f in found.files), found) for found in grouping.sets]
        for _, found in sorted(items, key=lambda item: item[0]):  # in the order given
            if isinstance(found, tuple):
                known, reason = found
                if not self._join(known, given[known], result):
                    result.errors.append(f"{known.name}: {reason}; the tab loads depth .exr files and a set's canvases")
                continue
            if found.depth is None:
                if not all([self._join(f.path, given[f.path], result) for f in found.files]):
                    names = ", ".join(f.path.name for f in found.files)
                    result.errors.append(
                        f"{found.scene}: no Depth canvas among the files ({names}): the tab shows a set by its depth; "
                        "drop its Depth canvas too"
                    )
                continue
            path, uploaded = given[found.depth.path]
            canvas = found.depth.is_canvas
            parts = SetParts(
                found.scene if canvas else None,
                self._part(found.normal, given),
                self._part(found.beauty, given),
                found.conflicts,
            )
            key_name = found.scene if canvas else found.depth.path.name
            self._load_one(path, found.depth.path.name, key_name, uploaded, parts, result)
            result.warnings.extend(found.conflicts)
        return result

    @staticmethod
    def _part(file: Any, given: dict[Path, tuple[Path, bool]]) -> SetPart | None:
        if file is None:
            return None
        path, uploaded = given[file.path]
        return SetPart(path, file.path.name, uploaded)

    def _join(self, known: Path, where: tuple[Path, bool], result: LoadResult) -> bool:
        """A Normal canvas or render image whose scene is loaded already joins that set; False when none is."""
        file = canvas_file(known)
        if file.kind not in ("normal", "beauty", "render"):
            return False
        with self._lock:
            for key, parts in self._parts.items():
                if parts.scene is not None and parts.scene.lower() == file.scene.lower():
                    part = SetPart(where[0], known.name, where[1])
                    if file.kind == "normal":
                        self._parts[key] = SetParts(parts.scene, part, parts.beauty, parts.notes)
                    else:
                        self._parts[key] = SetParts(parts.scene, parts.normal, part, parts.notes)
                    self._previews[key] = SetPreviews()
                    result.joined.append(f"{known.name} → {key}")
                    return True
        return False

    def _load_one(
        self, path: Path, name: str, key_name: str, uploaded: bool, parts: SetParts, result: LoadResult
    ) -> None:
        try:
            if not name.lower().endswith(".exr"):
                raise DepthReadError(Path(name), "not an .exr file (only OpenEXR depth files can be loaded)")
            entry, warning = self._open(self._unique_key(key_name), path, name, uploaded)
        except DepthReadError as exc:
            result.errors.append(str(exc).replace(str(path), name))
            return
        except MemoryError:
            result.errors.append(f"{name}: not enough memory to load this image")
            return
        except Exception as exc:  # a bug or an unforeseen failure: this file fails, logged; the others load
            log.exception("daz_depthmap: loading %s failed", name)
            result.errors.append(f"{name}: could not be loaded ({type(exc).__name__}: {exc})")
            return
        if warning:
            result.warnings.append(f"{name}: {warning}")
        with self._lock:
            self._files.append(entry)
            self._params[entry.key] = self._initial_params(entry, self.defaults.channel)
            self._bands[entry.key] = BandSettings()
            self._parts[entry.key] = parts
            self._normal[entry.key] = NormalOptions()
            self._previews[entry.key] = SetPreviews()
            self._stems.claim(safe_stem(self._stem_name(entry)), entry.key)  # in load order: the first keeps its name
            if not result.loaded:
                self._current = entry.key
                self._view += 1
        result.loaded.append(entry.key)

    def set_normal_options(self, options: NormalOptions) -> Shown:
        """The shown set's normal options (convention, background, camera, normals from the depth)."""
        with self._lock:
            shown = self.require_shown()
            self._normal[shown.file.key] = options
            return self.require_shown()

    # ----------------------------------------------------------------------------------------------------------
    # Changing what is shown

    def select(self, key: str) -> Shown:
        """Show another loaded file."""
        with self._lock:
            self.get(key)
            if key != self._current:
                self._current = key
                self._view += 1
            return self.require_shown()

    def remove(self, key: str) -> LoadedFile:
        """Forget a file (frees its memory); the next one (or the previous) is shown. Returns the removed file."""
        with self._lock:
            entry = self.get(key)
            index = self._files.index(entry)
            del self._files[index]
            del self._params[key]
            del self._bands[key]
            del self._parts[key]
            del self._normal[key]
            del self._previews[key]
            self._stems.release(key)
            self._owned.forget(key)
            if self._current == key:
                self._current = self._files[min(index, len(self._files) - 1)].key if self._files else None
                self._view += 1
            return entry

    def set_channel(self, channel: str) -> Shown:
        """Read the shown file again with another channel; its options are kept, its cutoffs start afresh."""
        shown = self.require_shown()
        entry = shown.file
        if channel == entry.channel:
            return shown
        entry.require_source()
        image = self._read(entry.source, entry.name, channel)
        fresh = LoadedFile(entry.key, entry.source, image, self.preview_side, self.max_pixels, entry.uploaded)
        kept = shown.params
        params = self._initial_params(fresh, image.channel).with_(
            compress_map=kept.compress_map,
            mask=kept.mask,
            noise=kept.noise,
            seed=kept.seed,
            bits=kept.bits,
            invert=kept.invert,
        )
        with self._lock:
            if entry not in self._files:
                raise ValueError(f"{entry.name} was removed meanwhile")
            self._files[self._files.index(entry)] = fresh
            self._params[fresh.key] = settle_cutoffs(fresh.stats, params)
            self._view += 1
            return self.require_shown()

    # ----------------------------------------------------------------------------------------------------------
    # Options

    def update(self, **changes: Any) -> Shown:
        """Change options of the shown file (``DepthParams`` field names) that keep its view.

        Raises
        ------
        ValueError
            With a message for the user: nothing loaded, a bad value, or a near cutoff not nearer than the far one.
        """
        with self._lock:
            shown = self.require_shown()
            changed = shown.params.with_(**changes)
            self._params[shown.file.key] = settle_cutoffs(shown.file.stats, changed, shown.params)
            return self.require_shown()

    def set_invert(self, invert: bool) -> Shown:
        """Read the shown file's values the other way round: the cutoffs start afresh, in a new view."""
        with self._lock:
            shown = self.require_shown()
            if bool(invert) != shown.params.invert:  # the splits meant the other direction: the bands start afresh
                params = shown.params.with_(invert=bool(invert), depth_cutoff=None, near_cutoff=None)
                self._params[shown.file.key] = params
                self._bands[shown.file.key] = BandSettings(
                    mode=shown.bands.mode,
                    split_parts=shown.bands.split_parts,
                    min_area=shown.bands.min_area,
                    region_size=shown.bands.region_size,
                )
            self._view += 1
            return self.require_shown()

    def set_cutoffs(
        self,
        far: float | None,
        near: float | None,
        key: str | None,
        view: int | None,
        bands: BandSettings | None = None,
    ) -> Shown:
        """Cutoffs (and bands) from the page's live path, for the file view it showed when it sent them.

        Raises
        ------
        StaleViewError
            When ``key``/``view`` name another file or an older view of this one (nothing changes).
        ValueError
            When the near cutoff is not nearer than the far one (nothing changes).
        """
        with self._lock:
            shown = self.require_shown()
            if key is not None and key != shown.file.key or view is not None and view != shown.view:
                raise StaleViewError(f"cutoffs for {key!r} (view {view}) arrived after the page showed another view")
            step = shown.file.step / 10  # a cutoff sent back as the page shows it keeps its exact value
            now_far, now_near = shown.params.depth_cutoff, shown.params.near_cutoff
            if isinstance(now_far, (int, float)) and far is not None and far == round_to_step(now_far, step):
                far = now_far
            if now_near is not None and near is not None and near == round_to_step(now_near, step):
                near = now_near
            shown = self.update(depth_cutoff=far, near_cutoff=near)
            if bands is not None:
                self._bands[shown.file.key] = bands
            return self.require_shown()

    def set_bands(self, bands: BandSettings) -> Shown:
        """The shown file's bands (its plan, how levels are given, region options)."""
        with self._lock:
            shown = self.require_shown()
            self._bands[shown.file.key] = bands
            return self.require_shown()

    def set_look(self, look: str) -> Shown | None:
        """What the previews show, for every file: the depth map, the bands' test colours or the region map."""
        if look not in LOOKS:
            raise ValueError(f"the preview shows one of {', '.join(LOOKS)}, not {look!r}")
        with self._lock:
            self._look = look
            return self.shown()

    def apply_recipe(self, recipe: Recipe) -> Shown:
        """Map the shown file with a recipe: its cutoffs, options and bands, the levels as saved (manual). The
        channel stays the one in use; the seed too when the recipe has none. A new view.

        Raises
        ------
        ValueError
            When the recipe's cutoffs contradict each other for this file (nothing changes).
        """
        with self._lock:
            shown = self.require_shown()
            params = recipe.params.with_(
                channel=shown.params.channel,
                seed=shown.params.seed if recipe.params.seed is None else recipe.params.seed,
            )
            self._params[shown.file.key] = settle_cutoffs(shown.file.stats, params, params)  # exact, as saved
            self._bands[shown.file.key] = BandSettings(
                recipe.plan,
                LevelMode.MANUAL,
                shown.bands.split_parts,
                shown.bands.min_area,
                shown.bands.region_size,
            )
            self._view += 1
            return self.require_shown()

    def pick(self, x: int, y: int) -> PixelInfo:
        """What lies under preview pixel ``(x, y)`` of the shown file."""
        return self.require_shown().file.pixel(x, y)
