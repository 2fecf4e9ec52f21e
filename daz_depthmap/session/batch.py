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
from ..output.names import output_path
from ..output.png import save_outputs
from ..params import DepthParams
from ..render.job import FullMaps, Job, JobFiles, Source, run_job
from ..render.recipe import Recipe, freeze_recipe
from .banding import LevelMode
from .workspace import Shown

log = logging.getLogger(__name__)

#: ``progress(done, total, name)``: called before each file of :func:`write_all` and once at the end.
Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class WriteResult:
    """Paths written and one message per file that failed."""

    written: list[Path] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


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
    """Write one file's outputs into ``out_dir``, all after all were made (a set is never half written): the depth
    PNG, the mask PNG when its ``mask`` option is on, the region map when a band in use has a region number, the
    normal map when the set has a Normal canvas (or its normals come from the depth), and the beauty when it is a
    Beauty canvas to tone-map (a render image is used as it is).

    The full resolution is read from the files again. Never overwrites an input in ``protect``. Raises
    ``DepthReadError``/``ValueError``/``OSError`` with a message for the user.
    """
    files, job = shown_job(shown)
    entry = shown.file
    made = run_job(files, job, entry.max_pixels, entry.read_full(), entry.stats)
    name = entry.name
    return save_outputs([(output_path(name, suffix, out_dir, shown.stem), image) for suffix, image in made.images()],
                        protect)  # fmt: skip


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
            result.written.extend(write_shown(with_recipe(shown, recipe) if recipe else shown, out_dir, protect))
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
