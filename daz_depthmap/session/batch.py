"""Writing a session's outputs: one file, or every loaded file with its own options or one recipe (Process all)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..bands.plan import BandPlan
from ..bands.regions import RegionMap
from ..exr import DepthReadError
from ..output.names import BEAUTY_SUFFIX, DEPTH_SUFFIX, MASK_SUFFIX, NORMAL_SUFFIX, RECIPE_SUFFIX, REGIONS_SUFFIX
from ..output.png import save_outputs_named, write_set_named
from ..params import DepthParams
from ..render.job import FullMaps, Job, JobFiles, Source, run_job
from ..render.recipe import Recipe, freeze_recipe, recipe_to_json
from .banding import LevelMode
from .workspace import Shown

log = logging.getLogger(__name__)

#: The suffixes of the outputs a session writes.
SUFFIXES = (DEPTH_SUFFIX, MASK_SUFFIX, REGIONS_SUFFIX, NORMAL_SUFFIX, BEAUTY_SUFFIX, RECIPE_SUFFIX)

#: ``progress(done, total, name)``: called before each file of :func:`write_all` and once at the end.
Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class WriteResult:
    """Paths written, one message per file that failed, and one per file written under another name than its own
    (see :func:`taken_note`)."""

    written: list[Path] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def shown_job(shown: Shown, params: DepthParams | None = None) -> tuple[JobFiles, Job]:
    """The job of one file as shown (its options, the bands as the preview settles them, its normal options when
    the set has normals) and the files it reads: the session's depth and set parts, named as their user knows them.

    Raises ``ValueError`` when the bands cannot be used (the message says why)."""
    entry, parts = shown.file, shown.parts
    params = params or shown.params
    settled = entry.settle_for_output(params, shown.bands)
    job = replace(entry.job(params, settled), normals=shown.normal if shown.has_normals else None)
    files = JobFiles(
        Source(entry.source, entry.name),
        *(Source(part.path, part.name) if part is not None else None for part in (parts.normal, parts.beauty)),
        scene=parts.scene,
    )
    return files, job


def write_shown(shown: Shown, out_dir: str | os.PathLike[str], protect: Sequence[Path]) -> list[Path]:
    """Write one file's outputs into ``out_dir``, all after all were made, all or nothing: the depth PNG, the mask
    PNG when its ``mask`` option is on, the region map when a band in use has a region number, the normal map when
    the set has a Normal canvas (or its normals come from the depth), and the beauty when it is a Beauty canvas to
    tone-map (a render image is used as it is).

    The outputs are named after the file's stem, or ``stem-2``, ``stem-3``, ... when a file of that name in the
    folder is not this file's own earlier output (another session's, another program's, one changed since): a Save
    replaces only what the same file wrote before (see :func:`taken_note`). The full resolution is read from the
    files again. Never overwrites an input in ``protect``. Raises ``DepthReadError``/``ValueError``/``OSError``
    with a message for the user.
    """
    files, job = shown_job(shown)
    entry = shown.file
    made = run_job(files, job, entry.max_pixels, entry.read_full(), entry.stats)
    mine = shown.owned.may_replace(entry.key)
    written = save_outputs_named(out_dir, shown.stem, made.images(), protect, mine)
    shown.owned.record(entry.key, written)
    return written


def write_recipe(shown: Shown, out_dir: str | os.PathLike[str], protect: Sequence[Path]) -> Path:
    """Write the recipe of a file as shown into ``out_dir`` as ``STEM.recipe.json``, named like its PNGs (see
    :func:`write_shown`)."""
    text = recipe_to_json(recipe_of(shown))
    mine = shown.owned.may_replace(shown.file.key)
    written = write_set_named(out_dir, shown.stem, [(RECIPE_SUFFIX, text.encode("utf-8"))], protect, mine)
    shown.owned.record(shown.file.key, written)
    return written[0]


def taken_note(shown: Shown, written: Sequence[Path]) -> str | None:
    """What to tell the user when a file's outputs were named ``stem-N`` because a file with its own name in the
    folder is not its own (``None`` when they have the file's own stem)."""
    if not written or any(p.name.startswith(f"{shown.stem}.") for p in written):
        return None
    name = written[0].name
    suffix = next((s for s in SUFFIXES if name.endswith(s)), "")
    return (
        f"{shown.stem}{suffix} in that folder is not this file's own earlier output (another page's or program's): "
        f"saved as {name[: len(name) - len(suffix)]}{'.*' if len(written) > 1 else suffix} instead"
    )


def recipe_of(shown: Shown) -> Recipe:
    """The recipe of a file as shown: its options, both ends of its window and the plan its map is made with
    (levels as the preview settled them), so other frames get exactly the same mapping.

    Raises
    ------
    ValueError
        When the bands cannot be used (the message says why).
    """
    settled = shown.file.settle(shown.params, shown.bands)
    if settled.problem is not None and shown.bands.banded:
        raise ValueError(f"the bands cannot be used: {settled.problem}")
    plan = settled.plan if settled.plan is not None else BandPlan()
    return freeze_recipe(shown.params, plan, shown.file.window(shown.params))


def with_recipe(shown: Shown, recipe: Recipe) -> Shown:
    """``shown`` mapped with ``recipe`` instead of its own options and bands (its channel, seed and region
    options kept): every file of a Process all with one recipe gets the same window and levels."""
    seed = shown.params.seed if recipe.params.seed is None else recipe.params.seed
    params = recipe.params.with_(channel=shown.params.channel, seed=seed)
    return replace(shown, params=params, bands=replace(shown.bands, plan=recipe.plan, mode=LevelMode.MANUAL))


def write_all(
    items: Sequence[Shown],
    out_dir: str | os.PathLike[str],
    protect: Sequence[Path],
    progress: Progress | None = None,
    recipe: Recipe | None = None,
) -> WriteResult:
    """Write every item with its own options (or all with ``recipe``); a file that fails gives a message, the
    others go on."""
    result = WriteResult()
    for number, shown in enumerate(items):
        if progress is not None:
            progress(number, len(items), shown.file.name)
        try:
            written = write_shown(with_recipe(shown, recipe) if recipe else shown, out_dir, protect)
            result.written.extend(written)
            note = taken_note(shown, written)
            if note:
                result.notes.append(f"{shown.file.name}: {note}")
        except DepthReadError as exc:  # its message names the file
            result.errors.append(str(exc))
        except (ValueError, OSError) as exc:
            message = str(exc)
            result.errors.append(
                message if message.startswith(f"{shown.file.name}:") else f"{shown.file.name}: {message}"
            )
        except MemoryError:
            result.errors.append(f"{shown.file.name}: not enough memory to write this image")
    if progress is not None:
        progress(len(items), len(items), "")
    return result


def full_maps(shown: Shown) -> FullMaps:
    """The full-resolution depth map and mask of a file with its options and bands (for a send; the file is read
    again)."""
    full = shown.render_full()
    assert full.map.mask is not None
    return FullMaps(shown.stem, full.map.depth, full.map.mask, shown.params)


def region_maps(shown: Shown, size: tuple[int, int] | None = None) -> RegionMap | None:
    """The full-resolution region map of a file (at ``size``, nearest-neighbour, when given), or ``None`` when no
    band in use has a region number."""
    if size is not None:
        shown = replace(shown, bands=replace(shown.bands, region_size=size))
    return shown.render_full().regions
