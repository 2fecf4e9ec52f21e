"""The command line's batch: the files given as items (canvas sets, depth files, refused files), each run as one
:class:`~daz_depthmap.render.job.Job` and said in one summary line and its warnings."""

from __future__ import annotations

import contextlib
import io
import signal
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from ..bands.plan import BandPlan
from ..canvas.normals import LARGE_ERROR_DEG, NormalMap
from ..canvas.normals.options import describe_normals
from ..canvas.sets import CanvasGrouping, CanvasSet
from ..depth.mapping import DepthWindow
from ..exr import DepthReadError, NoDepthChannelError
from ..exr.library_output import native_stderr_silenced
from ..output.names import output_path, stem_of
from ..output.png import save_outputs
from ..printable import shown_label, shown_name
from ..render.job import DepthOutputs, Job, JobFiles, JobResult, Source, band_lines, run_job
from ..render.pipeline import DepthMap

#: Why a file that fits no set is refused (the start of the sentence is the command line's old one).
REFUSED = "input files must end in .exr, or be a PNG/JPEG render given with its scene's canvases"


@dataclass(frozen=True)
class FileReport:
    """What the command line says about a file or set it wrote: one summary line, and warnings (one line each); the
    plan and map its depth was written with (for --save_recipe)."""

    summary: str
    warnings: list[str]
    plan: BandPlan | None = None
    result: DepthMap | None = None


class NothingToWrite(Exception):
    """A canvas set with no part the command line can write (said in one line)."""


@dataclass(frozen=True)
class Item:
    """One line of a batch: a canvas set, a plain depth file, or a file that fits neither (``refused`` says why).

    ``path`` is the file given (a set's first part: its outputs go beside it)."""

    path: Path
    files: CanvasSet | None = None
    refused: str = ""

    @property
    def is_set(self) -> bool:
        """A canvas set (not a plain depth file, which is a set of one depth that is no canvas)."""
        return self.files is not None and not (self.files.depth is not None and not self.files.depth.is_canvas)

    @property
    def name(self) -> str:
        return self.files.scene if self.is_set and self.files is not None else self.path.name

    @property
    def stem(self) -> str:
        return self.name if self.is_set else stem_of(self.path.name)

    def job_files(self) -> JobFiles:
        """The parts the job reads: a set's depth, Normal canvas and beauty, or the depth file alone."""
        found = self.files
        if not self.is_set or found is None:
            return JobFiles(depth=Source(self.path))
        return JobFiles(
            *(Source(part.path) if part is not None else None for part in (found.depth, found.normal, found.beauty)),
            scene=found.scene,
        )


def batch_items(paths: Sequence[Path], grouping: CanvasGrouping) -> list[Item]:
    """The items of a batch in the order given: a plain file or a refused file at each of its places (as before
    sets), a canvas set once, at its first file's place."""
    index_of = {f.path: i for i, found in enumerate(grouping.sets) for f in found.files}
    refused = dict(grouping.ignored)
    items: list[Item] = []
    done: set[int] = set()
    for path in paths:
        index = index_of.get(path)
        if index is None:
            items.append(Item(path, refused=f"{REFUSED} ({refused.get(path, 'not recognised')})"))
            continue
        item = Item(grouping.sets[index].files[0].path, grouping.sets[index])
        if not item.is_set:
            items.append(Item(path, item.files))
        elif index not in done:
            done.add(index)
            items.append(item)
    return items


def problem_line(exc: BaseException, in_set: bool) -> str:
    """The error line's text for a failure: in a set, the file named first."""
    if isinstance(exc, DepthReadError):
        text = str(exc) if in_set else exc.problem
        return f"{text} with --channel NAME" if isinstance(exc, NoDepthChannelError) else text
    if isinstance(exc, (OSError, MemoryError, NothingToWrite)):
        return str(exc)
    return f"unexpected failure ({type(exc).__name__}: {exc})"  # a bug or an unforeseen failure: one line


def _depth_parts(made: DepthOutputs) -> list[str]:
    """The summary's words for the depth map: channel, size, depth range, window, background, bands, regions."""
    image, stats, result, plan = made.image, made.stats, made.map, made.plan
    parts = [
        f"channel {image.channel}",
        f"{image.width}x{image.height}",
        f"depth {stats.nearest:g}..{stats.farthest:g}",
        f"window {result.window.near:g}..{result.window.far:g}",
    ]
    if stats.invalid_count:
        parts.append(f"{stats.invalid_count} background px")
    if result.suggestion is not None:
        parts.append(f"auto: {result.suggestion.reason}")
    if plan is not None and len(plan.bands) > 1:  # a recipe without bands has one: the plain map
        splits = ", ".join(f"{split:g}" for split in plan.splits)
        levels = ", ".join(str(band.levels) for band in plan.bands)
        parts.append(f"{len(plan.bands)} bands split at {splits} ({levels} levels)")
    if made.regions is not None:
        regions = made.regions
        named = [f"{r.number} {shown_label(r.label)}" for r in regions.regions if r.label != f"region {r.number}"]
        parts.append(f"{len(regions.regions)} regions" + (f" ({', '.join(named)})" if named else ""))
        parts.extend(regions.notes)
    return parts


def _normal_warnings(result: NormalMap) -> list[str]:
    """The notes of a normal map a user must hear (on stderr, also with -q): the ones
    :func:`~daz_depthmap.canvas.normals.normal_map_from_canvas` puts first (world space found or a rotation applied, a
    large disagreement with the depth, an empty canvas) and the count of NaN or infinite pixels (its last note)."""
    report = result.report
    height, width = result.image.shape[:2]
    leading = sum(
        (
            report.looks_world or (report.rotation is not None and report.rotation_source != "given"),
            report.depth_error_deg is not None and report.depth_error_deg > LARGE_ERROR_DEG,
            report.background_pixels >= height * width,
        )
    )
    warnings = list(report.notes[:leading])
    if report.nonfinite_pixels and report.notes and report.notes[-1] not in warnings:
        warnings.append(report.notes[-1])
    return warnings


def _listing(canvas_set: CanvasSet) -> str:
    """The files of a set, by part, and the ones it does not use."""
    named = [
        f"{f.type if f.is_canvas else 'render'} {shown_name(f.path.name)}"
        for f in (canvas_set.depth, canvas_set.normal, canvas_set.beauty)
        if f is not None
    ]
    others = ", ".join(shown_name(f.path.name) for f in canvas_set.others)
    unused = f" (not used: {others})" if others else ""
    return f"canvas set: {', '.join(named) or 'no Depth, Normal or Beauty canvas'}{unused}"


def _nothing_to_write(canvas_set: CanvasSet, asked_normal: bool) -> str:
    """Why a set wrote nothing (a set without a part, or with only a Normal canvas and no --normal)."""
    if canvas_set.normal is not None and not asked_normal:
        return "nothing to write for this set: add --normal to convert its Normal canvas"
    found = ", ".join(
        f"the {f.type} canvas {shown_name(f.path.name)}" if f.is_canvas else f"the render {shown_name(f.path.name)}"
        for f in canvas_set.files
    )
    return f"nothing to write for this set: it has no Depth, Normal or Beauty canvas, only {found}"


def _sections(item: Item, job: Job, made: JobResult) -> list[str]:
    """The summary's sections: a depth file's words, or a set's files and each of its parts."""
    depth = _depth_parts(made.depth) if made.depth is not None else []
    described = describe_normals(made.normal) if made.normal is not None else None
    if not item.is_set or item.files is None:
        return [", ".join(depth + ([described] if described else []))]
    canvas_set = item.files
    sections = [_listing(canvas_set), "depth: " + (", ".join(depth) if made.depth else "no Depth canvas, no depth map")]
    if job.normals is not None:
        sections.append(f"normals: {described or 'no normal map'}")
    elif canvas_set.normal is not None:
        sections.append("normals: the Normal canvas is not converted without --normal")
    if canvas_set.beauty is not None:
        name = shown_name(canvas_set.beauty.path.name)
        kept = f"{name}, the render as saved (not rewritten)"
        sections.append(
            f"beauty: {kept}" if made.beauty_kept else f"beauty: Beauty canvas {name} exposed and sRGB-encoded"
        )
    return sections


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold Ctrl+C back while a set's outputs are encoded and written (a fraction of a second), then raise it:
    an interrupt between a temporary's creation and its being recorded, or between two renames, would leave a
    temporary or half a set behind. Only in the main thread (where Python delivers signals)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def process_item(
    item: Item,
    job: Job,
    out_dir: Path | None,
    max_pixels: int,
    out: TextIO,
    protect: Sequence[Path],
    stem: str,
    several: bool = False,
) -> FileReport:
    """Read, map and write one depth file or canvas set, its outputs named ``stem`` beside the file given (a set's
    first part), or in ``out_dir``. Raises on any problem with any part it writes; then nothing of it is written.
    With the histogram advice, ``several`` heads it with the file's name."""
    if not item.is_set and item.path.suffix.lower() != ".exr":
        raise DepthReadError(item.path, "input files must end in .exr")
    made = run_job(item.job_files(), job, max_pixels)
    depth = made.depth
    if depth is not None and depth.advice:
        if several:
            print(f"== {shown_name(depth.image.name)}", file=out)
        counts = depth.band_counts
        extra = band_lines(depth.plan, counts, depth.window) if depth.plan is not None and counts is not None else []
        print("\n".join([*depth.advice, *extra]), file=out)
    outputs = [(output_path(item.path, suffix, out_dir, stem), image) for suffix, image in made.images()]
    if not outputs and item.is_set and item.files is not None:
        raise NothingToWrite(_nothing_to_write(item.files, job.normals is not None))
    warnings = list(depth.map.warnings) if depth is not None else []
    if made.normal is not None:
        warnings += _normal_warnings(made.normal)
    if made.normal_missing is not None:
        warnings.append(made.normal_missing)
    with interrupts_deferred():
        written = save_outputs(outputs, protect)
    summary = ("; " if item.is_set else ", ").join(_sections(item, job, made))
    return FileReport(f"{summary} -> {', '.join(shown_name(p.name) for p in written)}", warnings,
                      depth.plan if depth else None, depth.map if depth else None)  # fmt: skip


@dataclass(frozen=True)
class Task:
    """One item to convert, with everything :func:`process_item` needs (plain data, sent to a worker process):
    its output ``stem`` is claimed by the parent before the item is dispatched."""

    item: Item
    job: Job
    out_dir: Path | None
    max_pixels: int
    protect: tuple[Path, ...]
    stem: str
    several: bool


@dataclass(frozen=True)
class Outcome:
    """What converting a :class:`Task` came to (plain data, sent back from a worker process): the text it printed
    on stdout (histogram advice), and its report (without the map's pixels: its ``window`` is kept for
    --save_recipe) or the error line's text."""

    printed: str
    report: FileReport | None = None
    error: str = ""
    window: DepthWindow | None = None


def run_task(task: Task) -> Outcome:
    """Convert one item, catching every failure as an error line's text (the batch goes on)."""
    out = io.StringIO()
    try:
        with native_stderr_silenced():  # OpenEXR's C library prints per bad chunk: this process is ours
            report = process_item(task.item, task.job, task.out_dir, task.max_pixels, out, task.protect, task.stem,
                                  task.several)  # fmt: skip
    except Exception as exc:  # every failure is one line, and the batch goes on
        return Outcome(out.getvalue(), error=problem_line(exc, task.item.is_set))
    window = report.result.window if report.result is not None else None
    return Outcome(out.getvalue(), FileReport(report.summary, report.warnings, report.plan), window=window)
