"""The HTTP API's work, without the web framework: a posted EXR and its options in, JSON-ready answers out.

``POST /daz-depthmap/v1/depth-map`` and ``…/histogram`` (:mod:`daz_depthmap.http.routes`) stream the posted EXR into
a private temporary file (:mod:`daz_depthmap.http.body`, :func:`new_temporary`; OpenEXR reads files), turn the other
fields into a :class:`MapRequest` (a name and a :class:`~daz_depthmap.render.job.Job`), and call :func:`convert` or
:func:`histogram_report` on the file. Every problem is an :class:`ApiError` with the HTTP status and a message
naming the file and what is wrong; nothing here raises anything else for bad input.

The PNGs are the command line's, byte for byte (the same mapping and :func:`~daz_depthmap.output.png.encode_png`), as
base64 without a ``data:`` prefix: what ``alwayson_scripts.controlnet.args[i].image`` in the WebUI's
``/sdapi/v1/txt2img`` takes.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import json
import os
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..bands.plan import Allocation, BandPlan
from ..bands.spec import parse_band_spec
from ..depth.histogram import depth_histogram, suggest_cutoff
from ..depth.mapping import DepthStats, depth_stats
from ..exr import DepthImage, DepthReadError, NoDepthChannelError, read_depth
from ..exr.layout import EXR_MAGIC
from ..output.png import encode_png
from ..params import DEFAULT_MAX_PIXELS, params_from_mapping
from ..render.job import Job, map_depth_image
from ..render.pipeline import NoDepthError
from ..render.recipe import RecipeError, recipe_from_dict

#: The largest request body the API reads (a 100-megapixel float EXR with room to spare, base64 included).
DEFAULT_MAX_BODY_BYTES = 768 * 2**20
#: The most pixels the API maps with ``compress_map``: ranking the distinct depths of an image costs up to ~43 bytes
#: a pixel when they are many (4.3 GB at 100 megapixels, README), against ~6 for the plain map.
COMPRESS_MAX_PIXELS = 40_000_000
#: The advice's bucket count (the original tool's) and the fine histogram's bin count.
ADVICE_BUCKETS = 20
FINE_BINS = 256

_MAP_KEYS = ("image", "name", "options", "recipe", "bands", "allocate", "regions", "split_parts", "min_area")
_HISTOGRAM_KEYS = ("image", "name", "channel", "invert")


class ApiError(Exception):
    """A request the API refuses: ``status`` (4xx) and a message for the caller."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class MapRequest:
    """What one depth-map request asks for: the file's name (for messages) and the job."""

    name: str
    job: Job


def _name(data: Mapping[str, Any]) -> str:
    """The file's name for messages (a path given is cut to its last part)."""
    name = data.get("name", "upload.exr")
    if isinstance(name, str):
        name = name.replace("\\", "/").rsplit("/", 1)[-1]
    if not isinstance(name, str) or not name or len(name) > 255 or "\0" in name:
        raise ApiError(400, "'name' must be a file name, up to 255 characters")
    return name


def _object(data: object) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ApiError(400, "the request body must be a JSON object")
    return data


def _unknown(data: Mapping[str, Any], known: tuple[str, ...], extra: tuple[str, ...] = ()) -> None:
    unknown = [key for key in data if key not in known and key not in extra]
    if unknown:
        raise ApiError(400, f"unknown field {unknown[0]!r}; the fields are {', '.join(known)}")


def map_job(data: object, form: bool = False) -> MapRequest:
    """The job a depth-map request describes (``form``: from a multipart form, where ``image`` is the file part).

    Raises :class:`ApiError` (400) naming the field and the problem."""
    fields = _object(data)
    _unknown(fields, _MAP_KEYS)
    name = _name(fields)
    options = fields.get("options", {})
    if not isinstance(options, Mapping):
        raise ApiError(400, "'options' must be a JSON object of option names and values")
    try:
        params = params_from_mapping(options)
    except ValueError as exc:
        raise ApiError(400, f"options: {exc}") from None
    bands: BandPlan | str | None = None
    allocate: Allocation | None = Allocation.PIXELS
    if fields.get("recipe") is not None:
        clashing = [key for key in ("options", "bands", "allocate") if fields.get(key) is not None]
        if clashing:
            raise ApiError(400, f"a recipe sets the cutoffs, options and bands: leave out {', '.join(clashing)}")
        try:
            recipe = recipe_from_dict(fields["recipe"])
        except RecipeError as exc:
            raise ApiError(400, f"recipe: {exc}") from None
        params, bands, allocate = recipe.params, recipe.plan, None
    else:
        spec = fields.get("bands")
        if spec is not None:
            if not isinstance(spec, str):
                raise ApiError(400, "'bands' must be the command line's --bands text (e.g. '180,400') or 'auto'")
            try:
                bands = "auto" if spec.strip().lower() == "auto" else parse_band_spec(spec, params.invert, "bands")
            except ValueError as exc:
                raise ApiError(400, str(exc)) from None
        mode = fields.get("allocate")
        if mode is not None:
            try:
                allocate = Allocation(mode)
            except ValueError:
                choices = ", ".join(repr(m.value) for m in Allocation)
                raise ApiError(400, f"'allocate' must be one of {choices}, not {mode!r}") from None
    flags = {key: fields.get(key, False) for key in ("regions", "split_parts")}
    for key, value in flags.items():
        if not isinstance(value, bool):
            raise ApiError(400, f"{key!r} must be true or false, not {value!r}")
    min_area = fields.get("min_area", 0)
    if isinstance(min_area, bool) or not isinstance(min_area, int) or min_area < 0:
        raise ApiError(400, f"'min_area' must be a whole number of pixels, 0 or more, not {min_area!r}")
    job = Job(params, bands, allocate, regions=flags["regions"], split_parts=flags["split_parts"], min_area=min_area)
    return MapRequest(name, job)


def histogram_job(data: object) -> tuple[str, str | None, bool]:
    """``(name, channel, invert)`` of a histogram request. Raises :class:`ApiError` (400)."""
    fields = _object(data)
    _unknown(fields, _HISTOGRAM_KEYS)
    channel, invert = fields.get("channel"), fields.get("invert", False)
    if channel is not None and (not isinstance(channel, str) or not channel):
        raise ApiError(400, f"'channel' must be a channel name, not {channel!r}")
    if not isinstance(invert, bool):
        raise ApiError(400, f"'invert' must be true or false, not {invert!r}")
    return _name(fields), channel, invert


def check_exr(head: bytes, name: str) -> None:
    """Refuse a file that is no OpenEXR file, from its first 8 bytes, before anything decodes it (415)."""
    if len(head) < 8 or head[:4] != EXR_MAGIC:
        what = "empty" if not head else "a PNG" if head[:4] == b"\x89PNG" else "not an OpenEXR file"
        raise ApiError(415, f"{name}: {what} (an OpenEXR file starts with the bytes 76 2f 31 01)")


# --------------------------------------------------------------------------------------------------------------
# The posted files: private temporary files, removed when their request ends and, whatever is left, at exit

TEMPORARY_PREFIX = "daz_depthmap-api-"
_temporaries: set[Path] = set()
_temporaries_lock = threading.Lock()
_closing = False


def new_temporary() -> tuple[int, Path]:
    """A new private temporary file for a posted EXR: its open descriptor and path (see :func:`drop_temporary`)."""
    try:
        handle, name = tempfile.mkstemp(prefix=TEMPORARY_PREFIX, suffix=".exr")
    except OSError as exc:
        raise ApiError(507 if exc.errno == 28 else 500, f"the server could not keep the upload ({exc})") from None
    path = Path(name)
    with _temporaries_lock:
        if not _closing:
            _temporaries.add(path)
            return handle, path
    os.close(handle)
    path.unlink(missing_ok=True)
    raise ApiError(503, "the server is stopping")


def drop_temporary(path: Path) -> None:
    """Remove a posted EXR's temporary file."""
    with _temporaries_lock:
        _temporaries.discard(path)
    with contextlib.suppress(OSError):  # another process may hold it (Windows); the exit handler tries again
        path.unlink(missing_ok=True)


def remove_temporaries() -> None:
    """Remove every posted EXR still on disk, and every one made after (the server is stopping: a conversion still
    running in a worker thread, or a body still arriving, may not get to remove its own)."""
    global _closing
    with _temporaries_lock:
        _closing = True
        left = list(_temporaries)
        _temporaries.clear()
    for path in left:
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)


atexit.register(remove_temporaries)


def _read(path: Path, name: str, channel: str | None, max_pixels: int) -> DepthImage:
    try:
        return read_depth(path, channel, max_pixels)
    except NoDepthChannelError as exc:
        raise ApiError(422, f"{name}: {exc.problem}; name one with the option 'channel'") from None
    except DepthReadError as exc:
        status = 413 if "above the limit" in exc.problem else 422
        raise ApiError(status, f"{name}: {exc.problem}") from None
    except MemoryError:
        raise ApiError(413, f"{name}: not enough memory to decode this image") from None


@dataclass(frozen=True, eq=False)
class EncodedPng:
    """A PNG of a reply: base64 text in the JSON, made a slice at a time when the reply is written
    (:func:`reply_pieces`)."""

    data: bytes

    def base64(self) -> str:
        return base64.b64encode(self.data).decode("ascii")


def _png(image: np.ndarray) -> EncodedPng:
    return EncodedPng(encode_png(image))


#: Bytes of a PNG turned to base64 per piece of a reply (a multiple of 3: the pieces join into one base64 text).
_BASE64_SLICE = 3 * 2**18


def reply_pieces(reply: Mapping[str, Any]) -> Iterator[bytes]:
    """A reply as JSON text, in pieces: its PNGs (:class:`EncodedPng`, at the top level) as base64 strings made a
    slice at a time, so that the whole text is never held at once."""
    yield b"{"
    for number, (key, value) in enumerate(reply.items()):
        yield (", " if number else "").encode() + json.dumps(key).encode() + b": "
        if isinstance(value, EncodedPng):
            yield b'"'
            for start in range(0, len(value.data), _BASE64_SLICE):
                yield base64.b64encode(value.data[start : start + _BASE64_SLICE])
            yield b'"'
        else:
            yield json.dumps(value).encode()
    yield b"}"


def reply_json(reply: Mapping[str, Any]) -> dict[str, Any]:
    """A reply with its PNGs as base64 text: what a client gets, as a dict."""
    return {key: value.base64() if isinstance(value, EncodedPng) else value for key, value in reply.items()}


def _stats(stats: DepthStats) -> dict[str, Any]:
    return {
        "nearest": None if stats.empty else stats.nearest,
        "farthest": None if stats.empty else stats.farthest,
        "valid_pixels": stats.valid_count,
        "background_pixels": stats.invalid_count,
    }


def convert(
    path: Path, request: MapRequest, max_pixels: int = DEFAULT_MAX_PIXELS, encoded: bool = False
) -> dict[str, Any]:
    """The depth map (and mask, region map) of the EXR at ``path`` with the request's job, as JSON-ready data
    (``encoded``: the PNGs as :class:`EncodedPng`, for :func:`reply_pieces` to write a slice at a time).

    The depth is let go as soon as the maps are made, and each map once it is encoded: the PNGs are encoded
    without the image's float depth held beside them.

    Raises :class:`ApiError`: 413 too many pixels, 422 unreadable or no valid depth or options that do not fit."""
    name, params = request.name, request.job.params
    if params.compress_map and max_pixels > COMPRESS_MAX_PIXELS:
        try:
            image = _read(path, name, params.channel, COMPRESS_MAX_PIXELS)
        except ApiError as exc:
            if exc.status == 413:
                raise ApiError(
                    413,
                    f"{name}: compress_map takes images of at most {COMPRESS_MAX_PIXELS:,} pixels over the API (its "
                    "cost grows with the distinct depths, up to several GB): send it without compress_map, or "
                    "use the command line",
                ) from None
            raise
    else:
        image = _read(path, name, params.channel, max_pixels)
    try:
        made = map_depth_image(image, request.job)
    except (NoDepthError, ValueError) as exc:
        raise ApiError(422, f"{name}: {exc}") from None
    stats, result, plan = made.stats, made.map, made.plan
    suggestion = result.suggestion or suggest_cutoff(image.depth, stats, params.invert)
    channel, width, height, notes = image.channel, image.width, image.height, image.notes
    window, warnings = result.window, result.warnings
    regions = made.regions
    maps = {"depth_map": result.depth, "mask": result.mask, "regions": regions.image if regions is not None else None}
    result = made = image = None  # type: ignore[assignment]  # only the maps are left
    reply: dict[str, Any] = {
        "name": name,
        "channel": channel,
        "width": width,
        "height": height,
        "bits": params.bits,
        "depth_map": None,
        "mask": None,
        "regions": None,
        "window": {"near": window.near, "far": window.far},
        "stats": _stats(stats),
        "suggested_cutoff": suggestion.cutoff,
        "suggestion": suggestion.reason,
        "bands": None,
        "warnings": [*notes, *warnings],
    }
    if plan is not None:
        reply["bands"] = [
            {"start": start, "end": end, "levels": band.levels, "label": band.label, "region": band.region}
            for (start, end), band in zip(plan.ranges(window), plan.bands, strict=True)
        ]
    if regions is not None:
        reply["region_list"] = [
            {"number": r.number, "label": r.label, "pixels": r.pixels, "colour": list(r.colour)}
            for r in regions.regions
        ]
        reply["warnings"] += list(regions.notes)
        regions = None
    for key in list(maps):  # each map let go once it is encoded
        picture = maps.pop(key)
        if picture is not None:
            reply[key] = _png(picture)
        del picture
    return reply if encoded else reply_json(reply)


def histogram_report(
    path: Path, name: str, channel: str | None, invert: bool, max_pixels: int = DEFAULT_MAX_PIXELS
) -> dict[str, Any]:
    """The 20-bucket advice in numbers, the fine histogram and the suggested cutoff of the EXR at ``path``."""
    image = _read(path, name, channel, max_pixels)
    stats = depth_stats(image.depth, image.valid)
    suggestion = suggest_cutoff(image.depth, stats, invert)
    reply: dict[str, Any] = {
        "name": name,
        "channel": image.channel,
        "width": image.width,
        "height": image.height,
        "stats": _stats(stats),
        "advice": [],
        "histogram": None,
        "suggested_cutoff": suggestion.cutoff,
        "suggestion": suggestion.reason,
        "gap": list(suggestion.gap) if suggestion.gap else None,
        "backdrop": list(suggestion.backdrop) if suggestion.backdrop else None,
    }
    if stats.empty:
        return reply
    coarse = depth_histogram(image.depth, stats, ADVICE_BUCKETS)
    step = (stats.farthest - stats.nearest) / ADVICE_BUCKETS
    reply["advice"] = [
        {"bucket": i, "percent": float(count) / stats.valid_count * 100.0, "from": stats.nearest + i * step}
        for i, count in enumerate(coarse.counts)
    ]
    fine = depth_histogram(image.depth, stats, FINE_BINS)
    reply["histogram"] = {"counts": fine.counts.tolist(), "edges": fine.edges.tolist()}
    return reply
