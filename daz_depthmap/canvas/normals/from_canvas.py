"""Normal maps from Iray's Normal canvas.

Iray documents its Normal canvas as "the normalized surface shading normal in camera space"
(``shared/facts/normal-maps.md`` §1.3); whether DAZ Studio writes it so is checked, not trusted: a canvas whose
normals face away from the camera is probably in world space, and a canvas compared with the normals of the same
render's Depth canvas can be turned by the rotation that fits them (or the header's ``worldToCamera``). A canvas
that already holds an encoded map is passed through.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...chunks import pixel_slices
from ..camera import (
    DEFAULT_CAMERA,
    Camera,
    angles_deg,
    direction_weights,
    fit_rotation,
    rotation_angle,
    weighted_quantile,
)
from .encoding import (
    BETTER_BY_DEG,
    DEFAULT_PARAMS,
    FACING_AWAY_BELOW,
    IDENTITY,
    LARGE_ERROR_DEG,
    SAMPLE_PIXELS,
    WORLD_SPACE_SHARE,
    NormalMap,
    NormalParams,
    NormalReport,
    background_colour,
    check_vectors,
    encode_all,
    encoding,
)
from .from_depth import check_depth, depth_band, view_axes


@dataclass(frozen=True, eq=False)
class _Sample:
    """A regular grid of canvas pixels (``rows`` x ``cols``): the vectors as read, as unit vectors where
    ``usable`` (long enough and finite), and the unit direction from each pixel's surface toward the camera."""

    rows: np.ndarray
    cols: np.ndarray
    raw: np.ndarray
    unit: np.ndarray
    usable: np.ndarray
    toward_camera: np.ndarray


def _sample_grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    stride = max(1, math.ceil(math.sqrt(height * width / SAMPLE_PIXELS)))
    return np.arange(stride // 2, height, stride), np.arange(stride // 2, width, stride)


def _sample(vectors: np.ndarray, camera: Camera, min_length: float) -> _Sample:
    height, width = vectors.shape[:2]
    rows, cols = _sample_grid(height, width)
    raw = vectors[rows][:, cols].reshape(-1, 3).astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        length = np.sqrt(np.einsum("ij,ij->i", raw, raw))
        usable = np.isfinite(length) & (length >= min_length)
    unit = np.zeros_like(raw)
    unit[usable] = raw[usable] / length[usable, None]
    u, v = view_axes(height, width)
    f = camera.focal_pixels(width)
    toward = np.stack(np.broadcast_arrays(-u[cols][None, :] / f, v[rows][:, None] / f, np.ones((1, 1))), -1)
    toward = toward.reshape(-1, 3)
    toward /= np.linalg.norm(toward, axis=1, keepdims=True)
    return _Sample(rows, cols, raw, unit, usable, toward)


def _looks_encoded(raw: np.ndarray) -> bool:
    """Vectors (non-background) that look like an already encoded map: every component in 0..1, and 2c - 1 is a
    unit vector where c itself is not."""
    if len(raw) == 0 or raw.min() < -0.002 or raw.max() > 1.002:
        return False
    decoded = np.linalg.norm(2 * raw - 1, axis=1)
    length = np.linalg.norm(raw, axis=1)
    mean = raw.mean(axis=0)
    return bool(
        abs(np.median(decoded) - 1) < 0.1
        and abs(np.median(length) - 1) > 0.1
        and abs(mean[0] - 0.5) < 0.25
        and abs(mean[1] - 0.5) < 0.25
        and mean[2] > 0.6
    )


def _passthrough(vectors: np.ndarray, params: NormalParams, camera: Camera) -> NormalMap:
    """An encoded map: 0..1 scaled to 0..255 (half up), NaN as 0, channels as they are."""
    image = np.empty(vectors.shape, np.uint8)
    flat_in, flat_out = vectors.reshape(-1, 3), image.reshape(-1, 3)
    for part in pixel_slices(len(flat_in)):
        values = np.nan_to_num(flat_in[part].astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
        values *= np.float32(255)
        values += np.float32(0.5)
        np.clip(values, 0, 255, out=values)
        np.copyto(flat_out[part], values, casting="unsafe")
    note = (
        "the canvas already holds an encoded normal map (all values 0..1, centred on 0.5): passed through, only "
        "scaled to 8 bits; its channel order and red direction are kept as they are, and the convention and "
        "background options do not apply"
    )
    report = NormalReport(
        "canvas", "encoded", params.convention, params.background, camera, passthrough=True, notes=(note,)
    )
    return NormalMap(image, report)


def _depth_sample(
    depth: np.ndarray, valid: np.ndarray, sample: _Sample, camera: Camera, params: NormalParams
) -> tuple[np.ndarray, np.ndarray]:
    """Unit depth normals at the sample grid and where they lie inside smooth surfaces."""
    depth, valid = check_depth(depth, valid)
    width = depth.shape[1]
    focal = camera.focal_pixels(width)
    normals = np.zeros((len(sample.rows), len(sample.cols), 3))
    interior = np.zeros((len(sample.rows), len(sample.cols)), bool)
    for i, row in enumerate(sample.rows):
        band, inside = depth_band(depth, valid, int(row), int(row) + 1, focal, params.depth_kind, params.max_slope)
        normals[i], interior[i] = band[0, sample.cols], inside[0, sample.cols]
    normals = normals.reshape(-1, 3)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    np.divide(normals, length, out=normals, where=length > 0)
    return normals, interior.reshape(-1)


def _pairs_with_depth(
    sample: _Sample,
    flips: np.ndarray,
    depth: np.ndarray,
    valid: np.ndarray | None,
    camera: Camera,
    params: NormalParams,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Canvas normals (flipped) and depth normals at the sample pixels inside smooth surfaces of both, where the
    canvas vector is a whole unit (not an edge average), and their :func:`direction_weights`; ``None`` when there
    are fewer than 50."""
    depth_normals, interior = _depth_sample(depth, valid, sample, camera, params)
    with np.errstate(invalid="ignore"):
        pairs = sample.usable & interior & (np.abs(np.linalg.norm(sample.raw, axis=1) - 1) < 0.1)
    if np.count_nonzero(pairs) < 50:
        return None
    return sample.unit[pairs] @ flips.T, depth_normals[pairs], direction_weights(depth_normals[pairs])


def _choose_rotation(
    sample: _Sample,
    flips: np.ndarray,
    looks_world: bool,
    params: NormalParams,
    depth: np.ndarray | None,
    valid: np.ndarray | None,
    camera: Camera,
    header: tuple[np.ndarray | None, str],
) -> tuple[np.ndarray | None, str, float | None, list[str]]:
    """(rotation or None, its source, median angle between the result and the depth's normals or None, notes)."""
    header_rotation, header_note = header
    notes: list[str] = []
    pairs = _pairs_with_depth(sample, flips, depth, valid, camera, params) if depth is not None else None
    if depth is not None and pairs is None:
        notes.append("too few smooth pixels shared by the canvas and the depth to compare them")

    def error(rotation: np.ndarray) -> float | None:
        """The median angle between the turned canvas and the depth, each direction counting equally."""
        if pairs is None:
            return None
        return weighted_quantile(angles_deg(pairs[0] @ rotation.T, pairs[1]), pairs[2], 0.5)

    if params.rotation is not None:
        given = np.asarray(params.rotation)
        return given, "given", error(given), ["rotation given by the user applied"]
    if params.space == "camera":
        return None, "", error(IDENTITY), notes
    if pairs is not None:
        fit = fit_rotation(*pairs)
        if not fit.well_posed:
            notes.append("the rotation fit is poorly determined: nearly all normals point one way (one flat surface?)")
        candidates = [("depth fit", fit.rotation, fit.median_error_deg)]
        if header_rotation is not None:
            candidates.append(("header", header_rotation, error(header_rotation)))
        source, rotation, best = min(candidates, key=lambda c: c[2])
        as_written = error(IDENTITY)
        if params.space == "world" or looks_world or as_written - best > BETTER_BY_DEG:
            return rotation, source, best, [*notes, header_note] if source == "header" else notes
        return None, "", as_written, notes
    if header_rotation is not None and (looks_world or params.space == "world"):
        return header_rotation, "header", None, [*notes, header_note]
    if params.space == "world":
        raise ValueError(
            "a world-space Normal canvas needs a rotation to camera space: give the Depth canvas of the same render "
            "(the rotation is fitted to it), a rotation, or a file whose header has worldToCamera"
        )
    return None, "", None, notes


def normal_map_from_canvas(
    normals: np.ndarray,
    params: NormalParams = DEFAULT_PARAMS,
    *,
    depth: np.ndarray | None = None,
    valid: np.ndarray | None = None,
    camera: Camera = DEFAULT_CAMERA,
    header_rotation: tuple[np.ndarray | None, str] = (None, ""),
) -> NormalMap:
    """The normal map of an Iray Normal canvas, encoded as ``params`` says.

    Steps: vectors are renormalised (edge pixels are averages of several samples); shorter than
    ``params.min_length``, NaN or infinite is background — NaN and infinite pixels are counted in the report,
    not refused, since a few bad pixels should not stop a render's conversion. A canvas whose values all lie in
    0..1 around 0.5 is an already encoded map and is passed through. Otherwise the canvas is checked: when more
    than :data:`WORLD_SPACE_SHARE` of its normals face away from the camera it is probably in world space. With
    ``depth`` (the same render's Depth canvas) the canvas is compared with normals computed from the depth: a
    rotation is fitted (trimmed least squares over smooth interior pixels) and used when the canvas looks like
    world space, when ``params.space == "world"``, or when it matches the depth clearly better than the canvas
    as written; the header's ``worldToCamera`` competes with it. Without depth, a world-looking canvas is
    rotated by the header's matrix when there is one, else reported.

    Parameters
    ----------
    normals:
        float (height, width, 3) canvas, as read (:func:`daz_depthmap.exr.read_vectors`).
    depth, valid:
        The Depth canvas of the same render and its valid mask (default: finite, > 0, below 1e9).
    camera:
        The render's camera (:func:`daz_depthmap.canvas.camera.camera_from_header`), for view directions and depth
        normals.
    header_rotation:
        :func:`daz_depthmap.canvas.camera.rotation_from_header` of the canvas's header.

    Raises
    ------
    ValueError
        When the shapes are wrong or the depth is not the canvas's size, or ``params.space == "world"`` and no
        rotation can be found.
    """
    vectors = check_vectors(normals)
    height, width = vectors.shape[:2]
    if depth is not None and np.shape(depth) != (height, width):
        dh, dw = np.shape(depth)[:2]
        raise ValueError(
            f"the Normal canvas is {width}x{height} pixels but the Depth canvas is {dw}x{dh}: they must come from "
            "the same render at the same size"
        )
    sample = _sample(vectors, camera, params.min_length)
    untouched = params.rotation is None and not any((params.flip_x, params.flip_y, params.flip_z))
    if untouched and _looks_encoded(sample.raw[sample.usable]):
        return _passthrough(vectors, params, camera)
    flips = params.flips
    facing = np.einsum("ij,ij->i", sample.unit[sample.usable] @ flips.T, sample.toward_camera[sample.usable])
    facing_away = float(np.mean(facing < FACING_AWAY_BELOW)) if len(facing) else 0.0
    looks_world = facing_away > WORLD_SPACE_SHARE
    rotation, rotation_source, depth_error, notes = _choose_rotation(
        sample, flips, looks_world, params, depth, valid, camera, header_rotation
    )
    transform = (rotation if rotation is not None else IDENTITY) @ flips
    image = np.empty(vectors.shape, np.uint8)
    fill = background_colour(params.convention, params.background)
    background, nonfinite = encode_all(vectors, image, encoding(params.convention, transform), fill, params.min_length)

    share = f"{facing_away:.0%} of the normals face away from the camera"
    if looks_world and rotation is None:
        notes.insert(
            0,
            f"{share}: this canvas is probably in world space, not camera space, and its colours will change with the "
            "camera angle. Give the Depth canvas of the same render so the rotation can be fitted, or set the space, "
            "a rotation or flips by hand.",
        )
    elif looks_world:
        notes.insert(0, f"{share}: the canvas is in world space; turned to camera space ({rotation_source})")
    elif rotation is not None and rotation_source != "given":
        notes.insert(
            0,
            f"the canvas does not match camera space; turned by {rotation_angle(rotation):.1f} degrees "
            f"({rotation_source})",
        )
    if depth_error is not None and depth_error > LARGE_ERROR_DEG:
        notes.insert(
            0,
            f"the map's normals and the depth's differ by {depth_error:.1f} degrees (median): the canvas may be "
            "mirrored (try a flip), the camera's focal length wrong, or the two canvases from different renders",
        )
    elif depth_error is not None:
        notes.append(f"the map's normals agree with the depth's within {depth_error:.1f} degrees (median)")
    if nonfinite:
        notes.append(f"{nonfinite} pixels hold NaN or infinite values; they are painted as background")
    if background == height * width:
        notes.insert(0, "no pixel has a normal: the canvas is empty (all zero, NaN or infinite)")
    report = NormalReport(
        "canvas",
        "world" if rotation is not None else "camera",
        params.convention,
        params.background,
        camera,
        looks_world=looks_world,
        facing_away=facing_away,
        rotation=rotation,
        rotation_source=rotation_source,
        rotation_angle_deg=rotation_angle(rotation) if rotation is not None else None,
        depth_error_deg=depth_error,
        background_pixels=background,
        nonfinite_pixels=nonfinite,
        notes=tuple(notes),
    )
    return NormalMap(image, report)
