"""The job: what every front end asks of one depth file or canvas set, and what it gets back.

The command line, the HTTP API, the tab's Save and Process all each build a :class:`Job` (the options, cutoffs,
bands and which outputs) and :class:`JobFiles` (the parts of one render), call :func:`run_job` (or
:func:`map_depth_image` for the depth alone) and only format the :class:`JobResult`: the same options give the same
bytes whichever front end asked.

A set is made whole or not at all: :func:`run_job` reads and makes every part before it returns, and raises
:class:`~daz_depthmap.exr.DepthReadError` naming the part and the problem when any part fails. Writing is the front
end's (:func:`~daz_depthmap.output.png.save_outputs` writes all of a result or nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..bands.plan import Allocation, BandPlan, band_counts, band_index, number_regions, paint_bands, plan_for_image
from ..bands.regions import RegionMap, region_map
from ..canvas.beauty import BeautyImage, read_beauty
from ..canvas.normals import NormalMap
from ..canvas.normals.options import NormalOptions, set_normal_map
from ..depth.histogram import advice_lines
from ..depth.mapping import DepthStats, DepthWindow, depth_stats, to_8bit
from ..exr import DepthImage, DepthReadError, read_depth
from ..output.names import BEAUTY_SUFFIX, DEPTH_SUFFIX, MASK_SUFFIX, NORMAL_SUFFIX, REGIONS_SUFFIX, TEST_SUFFIX
from ..params import DEFAULT_MAX_PIXELS, DepthParams
from .pipeline import DepthMap, NoDepthError, render, window_of


@dataclass(frozen=True)
class Job:
    """What to make of a depth file or canvas set: the options and bands, and which outputs besides the depth map.

    Attributes
    ----------
    params:
        The cutoffs and options (``mask`` adds the mask; ``depth_cutoff`` "histo" adds the histogram advice).
    bands:
        A plan, ``"auto"`` (split at the histogram's gaps), or ``None`` (one band).
    allocate:
        How bands without locked levels share the levels over this image's pixels; ``None`` keeps the levels as
        given (a recipe's), checked against this image.
    settled:
        The plan's levels were settled for this image by the caller (the tab, over its preview): used as they are.
    regions:
        Make the region map; when no band has a region number, every band holding pixels becomes one, near to far.
    split_parts, min_area, region_size:
        Each connected part its own region; parts smaller than this are no region; the map's size (nearest).
    test_colours:
        Make the test-colour picture (each band in its colour over the depth map).
    report:
        Add the 20-bucket histogram advice and each band's pixel count (the command line's ``histo``).
    normals:
        Make the normal map (from the Normal canvas, or from the depth with ``from_depth``); ``None``: no normals.
    """

    params: DepthParams = DepthParams()  # noqa: RUF009 - frozen
    bands: BandPlan | str | None = None
    allocate: Allocation | None = Allocation.PIXELS
    settled: bool = False
    regions: bool = False
    split_parts: bool = False
    min_area: int = 0
    region_size: tuple[int, int] | None = None
    test_colours: bool = False
    report: bool = False
    normals: NormalOptions | None = None


@dataclass(frozen=True)
class Source:
    """One file of a job: where it is, and the name the user knows it by (an upload's own name)."""

    path: Path
    name: str = ""

    @property
    def shown(self) -> str:
        return self.name or self.path.name

    def problem(self, exc: DepthReadError) -> DepthReadError:
        """A reading error named by the file the user knows."""
        return exc if not self.name or exc.path.name != self.path.name else DepthReadError(Path(self.name), exc.problem)


@dataclass(frozen=True)
class JobFiles:
    """The parts of one render a job reads: its depth, Normal canvas and beauty (a Beauty canvas to tone-map, or
    the render image, which is used as it is); ``scene`` names the render (``None``: a lone depth file)."""

    depth: Source | None = None
    normal: Source | None = None
    beauty: Source | None = None
    scene: str | None = None


@dataclass(frozen=True)
class DepthOutputs:
    """The depth map of one image and what the job adds to it."""

    image: DepthImage
    stats: DepthStats
    map: DepthMap
    plan: BandPlan | None  # the plan the map was made with (None: one band)
    regions: RegionMap | None = None
    test: np.ndarray | None = None  # uint8 RGB
    band_counts: np.ndarray | None = None  # pixels per band of ``plan`` (with ``report``)
    advice: tuple[str, ...] = ()  # the 20-bucket histogram advice (with ``report``)

    @property
    def window(self) -> DepthWindow:
        return self.map.window


@dataclass(frozen=True)
class JobResult:
    """All a job made, nothing written yet."""

    depth: DepthOutputs | None = None
    normal: NormalMap | None = None
    #: why no normal map was made though the job asked for one (``None``: made, or not asked for)
    normal_missing: str | None = None
    beauty: BeautyImage | None = None  # a Beauty canvas tone-mapped to 8-bit sRGB
    beauty_kept: bool = False  # the beauty is a render image, used as saved (not rewritten)

    def images(self) -> list[tuple[str, np.ndarray]]:
        """``(suffix, image)`` of every output, in the order they are written and said."""
        found: list[tuple[str, np.ndarray | None]] = []
        if self.depth is not None:
            found += [
                (DEPTH_SUFFIX, self.depth.map.depth),
                (MASK_SUFFIX, self.depth.map.mask),
                (REGIONS_SUFFIX, self.depth.regions.image if self.depth.regions is not None else None),
                (TEST_SUFFIX, self.depth.test),
            ]
        found.append((NORMAL_SUFFIX, self.normal.image if self.normal is not None else None))
        found.append((BEAUTY_SUFFIX, self.beauty.image if self.beauty is not None else None))
        return [(suffix, image) for suffix, image in found if image is not None]


@dataclass(frozen=True)
class FullMaps:
    """Full-resolution outputs of the file currently shown in a session (what a send puts into ControlNet)."""

    name: str  # safe output stem, e.g. "scene" for scene.exr
    depth: np.ndarray  # uint8 or uint16, near = white
    mask: np.ndarray  # uint8, far plane black, subject white (always computed, shown or not)
    params: DepthParams

    @property
    def width(self) -> int:
        return int(self.depth.shape[1])

    @property
    def height(self) -> int:
        return int(self.depth.shape[0])


def band_lines(plan: BandPlan, counts: Sequence[int] | np.ndarray, window: DepthWindow) -> list[str]:
    """One line per band: its depths, share of the valid pixels and levels (the histogram advice's companion)."""
    valid = max(int(np.sum(counts)), 1)
    lines = []
    for i, ((start, end), band) in enumerate(zip(plan.ranges(window), plan.bands, strict=True)):
        region = f", region {band.region}" if band.region is not None else ""
        lines.append(
            f"** {plan.name(i)}: {start:g} to {end:g}, {counts[i] / valid * 100:.2f}% of the pixels in the window, "
            f"{band.levels} levels{region}"
        )
    return lines


def map_depth_image(image: DepthImage, job: Job, stats: DepthStats | None = None) -> DepthOutputs:
    """The depth map of ``image`` with ``job``'s options and bands, and the region map, test colours and band
    counts the job asks for (``stats``: the image's, when the caller has them).

    Raises
    ------
    NoDepthError
        When no pixel holds valid depth.
    ValueError
        When the cutoffs contradict each other, the bands do not fit this image, or the regions cannot be made.
    """
    params = job.params
    stats = stats or depth_stats(image.depth, image.valid)
    window = window_of(image, params, stats)  # once: with ``auto`` it searches the histogram
    if job.settled:
        plan = job.bands if isinstance(job.bands, BandPlan) else None
    else:
        plan = plan_for_image(job.bands, image.depth, image.valid, stats, window[0], job.allocate)
    advice = tuple(advice_lines(image.depth, stats)) if job.report else ()
    result = render(image, params, stats, plan=plan, window=window)
    painted = plan or BandPlan()
    index = None  # which band each pixel is in (int16, 2 bytes a pixel): only for what needs it
    if job.regions or job.test_colours or (plan is not None and job.report):
        index = band_index(image.depth, image.valid, painted, result.window)
    counts = band_counts(index, len(painted.bands)) if index is not None else None
    regions = test = None
    if job.regions and counts is not None:
        if not any(band.region is not None for band in painted.bands):
            painted = number_regions(painted, counts)
        regions = region_map(index, painted, job.region_size, job.split_parts, job.min_area)
    if job.test_colours and index is not None:
        test = paint_bands(to_8bit(result.depth), index, plan or BandPlan())
    reported = counts if job.report and plan is not None else None
    return DepthOutputs(image, stats, result, plan, regions, test, reported, advice)


def _checked_size(
    first: list[tuple[str, Source, int, int]], source: Source, what: str, width: int, height: int
) -> None:
    """Refuse a part of another size than the set's first part (naming both files); the first part is kept in
    ``first``."""
    if not first:
        first.append((what, source, width, height))
        return
    first_what, first_source, first_width, first_height = first[0]
    if (first_width, first_height) != (width, height):
        raise DepthReadError(
            Path(source.shown),
            f"the {what} is {width}x{height} pixels but the {first_what} {first_source.shown} is "
            f"{first_width}x{first_height}: they must come from the same render at the same size",
        )


def _no_normal_hint(scene: str | None, has_depth: bool) -> str:
    """Why a file or set asked for a normal map has none, and how to get one."""
    if scene is None:
        return (
            "no normal map: a plain depth file has no Normal canvas; add --normal_from_depth to compute the normals "
            "from its depth, or give the render's canvases as SCENE-CanvasN-Depth.exr and SCENE-CanvasN-Normal.exr"
        )
    if not has_depth:
        return "no normal map: the set has no Normal canvas, and no Depth canvas to compute one from"
    return (
        f"no normal map: the set has no Normal canvas (give {scene}-CanvasN-Normal.exr of the same render with it), "
        "or add --normal_from_depth to compute the normals from the depth"
    )


def run_job(
    files: JobFiles,
    job: Job,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    depth: DepthImage | None = None,
    stats: DepthStats | None = None,
) -> JobResult:
    """Read and make every part of one render with ``job``: the depth outputs from its depth, the normal map, the
    beauty (a Beauty canvas tone-mapped; a render image is kept as saved). ``depth`` (and its ``stats``): the depth
    image when the caller has read it already.

    Raises
    ------
    DepthReadError
        Naming the part (by the name its user knows) and the problem, when any part cannot be read or made, or the
        parts differ in size; then nothing of the set is made.
    """
    sizes: list[tuple[str, Source, int, int]] = []  # the first part read: the set's size
    made: DepthOutputs | None = None
    if files.depth is not None:
        source = files.depth
        try:
            image = depth if depth is not None else read_depth(source.path, job.params.channel, max_pixels)
            made = map_depth_image(image, job, stats)
        except DepthReadError as exc:
            raise source.problem(exc) from None
        except (NoDepthError, ValueError) as exc:
            raise DepthReadError(Path(source.shown), str(exc)) from None
        _checked_size(sizes, source, "Depth canvas", image.width, image.height)
    normal, missing = None, None
    if job.normals is not None:
        normal_source = files.normal
        try:
            normal = set_normal_map(
                normal_source.path if normal_source is not None else None,
                made.image if made is not None else None,
                files.depth.path if made is not None and files.depth is not None else None,
                job.normals,
                max_pixels,
            )
        except DepthReadError as exc:
            raise (normal_source.problem(exc) if normal_source is not None else exc) from None
        except ValueError as exc:
            named = normal_source or files.depth
            raise DepthReadError(Path(named.shown) if named else Path("normal"), str(exc)) from None
        if normal is None:
            missing = _no_normal_hint(files.scene, made is not None)
        elif normal_source is not None:
            _checked_size(sizes, normal_source, "Normal canvas", normal.image.shape[1], normal.image.shape[0])
    beauty, kept = None, False
    if files.beauty is not None:
        if files.beauty.path.suffix.lower() != ".exr":
            kept = True
        else:
            try:
                beauty = read_beauty(files.beauty.path, max_pixels)
            except DepthReadError as exc:
                raise files.beauty.problem(exc) from None
            except ValueError as exc:
                raise DepthReadError(Path(files.beauty.shown), str(exc)) from None
            _checked_size(sizes, files.beauty, "Beauty canvas", beauty.image.shape[1], beauty.image.shape[0])
    return JobResult(made, normal, missing, beauty, kept)
