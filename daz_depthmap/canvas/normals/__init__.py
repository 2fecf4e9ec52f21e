"""Normal maps for ControlNet, from Iray's Normal canvas or computed from the Depth canvas.

Camera space here is OpenGL's: x right, y up, z toward the viewer; the camera sits at the origin looking down -z.
A surface facing the camera has the normal (0, 0, 1). Iray documents its Normal canvas as "the normalized surface
shading normal in camera space" and its Depth canvas as the "depth of the hit point along the (negative)
z-coordinate in camera space" (``shared/facts/normal-maps.md`` §1.3); whether DAZ Studio writes them so is checked,
not trusted (:func:`normal_map_from_canvas`).

Encoding (``convention``)
-------------------------
- ``"normalbae"`` (and ``"dsine"``, the same): ``R = (1 - x)/2, G = (1 + y)/2, B = (1 + z)/2``, times 255, rounded
  half up: red is left, green is up, blue is toward the viewer; a camera-facing pixel is (128, 128, 255). This is
  what ``control_v11p_sd15_normalbae`` and the DSINE-trained models expect.
- ``"sd15"``: the same colours in reversed channel order (R = toward the viewer, G = up, B = left), as the
  ControlNet 1.0 ``control_sd15_normal`` model is fed in AUTOMATIC1111; facing is (255, 128, 128).

Values are written linearly (no sRGB curve). Background (no geometry) is the colour of a camera-facing normal
(``background="facing"``, as the 1.0 preprocessor and renderer add-ons do) or black (``"black"``, what the BAE
training data treats as "no normal").

Depth: planar, not Euclidean
----------------------------
Iray's documentation defines the Depth canvas as the depth along the camera's z axis (planar: "all points on a
plane normal to the camera direction have the same depth") and offers a separate Distance canvas for the distance
to the camera, so planar is the default. ``depth_kind="euclidean"`` takes the values as distances along each
pixel's ray (a Distance canvas). Taking one for the other bends flat surfaces: near the optical axis the two agree,
but a wall at the border of a 65 mm frame tilts by the angle to the axis, up to 15 degrees.

The camera (:class:`daz_depthmap.canvas.camera.Camera`) is a pinhole: DAZ Studio's default 65 mm lens on a 36 mm film
width unless the EXR header says otherwise (:func:`daz_depthmap.canvas.camera.camera_from_header`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from ...chunks import CHUNK_PIXELS, pixel_slices
from ...exr import valid_depth
from ..camera import (
    DEFAULT_CAMERA,
    Camera,
    angles_deg,
    direction_weights,
    fit_rotation,
    rotation_angle,
    weighted_quantile,
)

CONVENTIONS = ("normalbae", "dsine", "sd15")
BACKGROUNDS = ("facing", "black")
SPACES = ("auto", "camera", "world")
DEPTH_KINDS = ("planar", "euclidean")

#: A normal whose dot product with the direction to the camera is below this faces away from the camera.
FACING_AWAY_BELOW = -0.1
#: A canvas with more than this share of its normals facing away is probably in world space, not camera space:
#: every visible surface of a camera-space canvas faces the camera, bar smoothed normals at silhouettes.
WORLD_SPACE_SHARE = 0.2
#: A canvas vector shorter than this is background (no hit: zero; a pixel mostly over background: short).
MIN_LENGTH = 0.25
#: A depth step between neighbours steeper than this slope (tan of the angle from facing the camera; 10 is about
#: 84 degrees) is an edge, not a surface: a silhouette, or one object in front of another.
MAX_SLOPE = 10.0
#: Where the slopes to both neighbours agree within this (tan units) the surface is smooth there, and the normal
#: uses the central difference; otherwise the flatter side (a crease, an edge).
SMOOTH_SLOPE = 0.5
#: The checks and the rotation fit look at a regular grid of about this many pixels.
SAMPLE_PIXELS = 100_000
#: A rotation (or the header's matrix) replaces "camera space as written" only when it fits the depth's normals
#: better by more than this many degrees (median angle).
BETTER_BY_DEG = 2.0
#: A median angle above this between the map's normals and the depth's is reported as a problem.
LARGE_ERROR_DEG = 10.0

_IDENTITY = np.eye(3)


# --------------------------------------------------------------------------------------------------------------
# Options and results


@dataclass(frozen=True)
class NormalParams:
    """How a Normal canvas or a depth canvas becomes a normal map.

    Attributes
    ----------
    convention:
        ``"normalbae"`` / ``"dsine"`` (the same colours) or ``"sd15"`` (ControlNet 1.0's reversed channels).
    background:
        ``"facing"``: pixels without a normal get the colour of a camera-facing normal; ``"black"``: (0, 0, 0).
    space:
        What the Normal canvas holds: ``"auto"`` (check it: camera space unless it looks like world space or a
        rotation fits the depth's normals clearly better), ``"camera"`` (trust it) or ``"world"`` (rotate it: the
        given ``rotation``, the header's ``worldToCamera`` or a rotation fitted to the depth).
    flip_x, flip_y, flip_z:
        Negate a component of the canvas as read, before any rotation: for canvases with other axis conventions.
    rotation:
        A world-to-camera rotation (3x3, ``n_camera = rotation @ n_world``) to apply to the canvas; overrides
        ``space``.
    depth_kind:
        ``"planar"`` (Iray's Depth canvas: distance along the camera axis) or ``"euclidean"`` (distance to the
        camera along each pixel's ray).
    max_slope:
        Depth steps steeper than this slope between neighbours are edges (see :data:`MAX_SLOPE`).
    min_length:
        Canvas vectors shorter than this are background (see :data:`MIN_LENGTH`).
    """

    convention: str = "normalbae"
    background: str = "facing"
    space: str = "auto"
    flip_x: bool = False
    flip_y: bool = False
    flip_z: bool = False
    rotation: tuple[tuple[float, float, float], tuple[float, float, float], tuple[float, float, float]] | None = None
    depth_kind: str = "planar"
    max_slope: float = MAX_SLOPE
    min_length: float = MIN_LENGTH

    def __post_init__(self) -> None:
        for name, allowed in (
            ("convention", CONVENTIONS),
            ("background", BACKGROUNDS),
            ("space", SPACES),
            ("depth_kind", DEPTH_KINDS),
        ):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {getattr(self, name)!r}")
        if not (math.isfinite(self.max_slope) and self.max_slope > 0):
            raise ValueError(f"max_slope must be a positive number, not {self.max_slope}")
        if not (math.isfinite(self.min_length) and 0 < self.min_length < 1):
            raise ValueError(f"min_length must lie between 0 and 1, not {self.min_length}")
        if self.rotation is not None:
            matrix = np.asarray(self.rotation, dtype=np.float64)
            if matrix.shape != (3, 3) or not np.all(np.isfinite(matrix)):
                raise ValueError(f"rotation must be a 3x3 matrix of numbers, got shape {matrix.shape}")
            if not np.allclose(matrix @ matrix.T, _IDENTITY, atol=1e-3) or np.linalg.det(matrix) < 0:
                raise ValueError(
                    "rotation must be a rotation matrix (orthonormal, determinant +1); use flips to mirror"
                )
            object.__setattr__(self, "rotation", tuple(tuple(float(v) for v in row) for row in matrix))

    @property
    def flips(self) -> np.ndarray:
        """The flips as a diagonal matrix."""
        return np.diag([-1.0 if f else 1.0 for f in (self.flip_x, self.flip_y, self.flip_z)])


DEFAULT_PARAMS = NormalParams()


@dataclass(frozen=True, eq=False)
class NormalReport:
    """What a conversion found and did, for the user.

    Attributes
    ----------
    source:
        ``"canvas"`` or ``"depth"``.
    space:
        What the canvas was taken for: ``"camera"`` or ``"world"``; ``"encoded"`` for a passed-through map.
    looks_world:
        More than :data:`WORLD_SPACE_SHARE` of the canvas's normals face away from the camera.
    facing_away:
        That share (0..1), measured on the canvas as read (after flips), against each pixel's view direction.
    rotation:
        The world-to-camera rotation applied (3x3), ``None`` for none.
    rotation_source:
        ``"given"``, ``"header"`` (worldToCamera) or ``"depth fit"``; ``""`` for none.
    rotation_angle_deg:
        How far that rotation turns, in degrees.
    depth_error_deg:
        With a depth canvas: the median angle between the map's normals and the normals of the depth, over pixels
        inside smooth surfaces, each direction counting equally (:func:`direction_weights`: a backdrop filling the
        frame does not hide the figure). A check of the whole conversion: a few degrees is normal.
    background_pixels:
        Pixels painted as background (no geometry, too short, NaN or infinite, or across depth edges).
    nonfinite_pixels:
        Canvas pixels holding NaN or infinity (they are background).
    passthrough:
        The canvas already held an encoded map (values 0..1) and was passed through.
    camera:
        The camera used for view directions and depth normals.
    notes:
        Sentences for the user, most important first.
    """

    source: str
    space: str
    convention: str
    background: str
    camera: Camera
    looks_world: bool = False
    facing_away: float = 0.0
    rotation: np.ndarray | None = None
    rotation_source: str = ""
    rotation_angle_deg: float | None = None
    depth_error_deg: float | None = None
    background_pixels: int = 0
    nonfinite_pixels: int = 0
    passthrough: bool = False
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class NormalMap:
    """The result: ``image`` is uint8 (height, width, 3) in RGB order, ready for a PNG; ``report`` explains it."""

    image: np.ndarray
    report: NormalReport


# --------------------------------------------------------------------------------------------------------------
# Encoding


def _encoding(convention: str, transform: np.ndarray = _IDENTITY) -> np.ndarray:
    """The (3, 4) matrix M with ``colour = M @ (n, 1)`` for a unit canvas vector n: the transform to camera space,
    the red flip (red is left) and the channel order, times 127.5, plus 128 so that truncating rounds half up.

    The offset is 128 and 2**-13 (about a ten-thousandth) of a level: float32 arithmetic can land an exact half
    (x = 2/3: 42.5) a few hundred-thousandths below it, which would round down, and differently for different
    channel orders.
    """
    matrix = 127.5 * np.diag([-1.0, 1.0, 1.0]) @ transform
    if convention == "sd15":
        matrix = matrix[::-1]
    return np.hstack([matrix, np.full((3, 1), 128.0 + 2.0**-13)]).astype(np.float32)


def _background_colour(convention: str, background: str) -> np.ndarray:
    if background == "black":
        return np.zeros(3, np.uint8)
    return (_encoding(convention) @ np.array([0, 0, 1, 1], np.float32)).astype(np.uint8)


_SUM = np.ones((1, 3), np.float32)


def _encode_band(
    vectors: np.ndarray, out: np.ndarray, matrix: np.ndarray, fill: np.ndarray, min_length: float
) -> tuple[int, int]:
    """Encode float32 vectors (rows, width, 3) of any length into uint8 ``out`` of the same shape: normalised,
    transformed and coloured by ``matrix`` (:func:`_encoding`), rounded half up; shorter than ``min_length``, NaN
    or infinite: ``fill`` (an image at least as large). Returns the (background, non-finite) pixel counts.

    OpenCV does the per-pixel work: numpy's broadcasting over the colour axis and its masked writes are many
    times slower at this size.
    """
    with np.errstate(invalid="ignore", over="ignore"):
        length2 = cv2.transform(cv2.multiply(vectors, vectors), _SUM).reshape(vectors.shape[:2])
        finite = np.isfinite(length2)
        keep = (length2 >= np.float32(min_length * min_length)) & finite
        scale = cv2.divide(1.0, cv2.sqrt(length2))
        unit = cv2.multiply(vectors, cv2.merge([scale, scale, scale]))
        colour = cv2.transform(unit, matrix).reshape(vectors.shape)  # unit vectors: 0.5 <= colour <= 255.5
        np.copyto(out, colour, casting="unsafe")  # truncation: half up
    rows, width = vectors.shape[:2]
    cv2.copyTo(fill[:rows, :width], (~keep).view(np.uint8), out)
    return int(keep.size - np.count_nonzero(keep)), int(finite.size - np.count_nonzero(finite))


def encode_normals(normals: np.ndarray, convention: str = "normalbae", background: str = "facing") -> np.ndarray:
    """Colours of camera-space normals: uint8 (height, width, 3), RGB order.

    Parameters
    ----------
    normals:
        float array (height, width, 3) of camera-space vectors (x right, y up, z toward the viewer), any length:
        they are normalised; vectors shorter than :data:`MIN_LENGTH`, NaN or infinite are background.
    convention, background:
        As in :class:`NormalParams`.
    """
    NormalParams(convention=convention, background=background)  # validates
    vectors = _check_vectors(normals)
    out = np.empty(vectors.shape, np.uint8)
    _encode_all(vectors, out, _encoding(convention), _background_colour(convention, background), MIN_LENGTH)
    return out


def _band_rows(width: int) -> int:
    """Rows per band: about :data:`CHUNK_PIXELS` pixels, so that the per-pixel work runs in cache."""
    return max(1, CHUNK_PIXELS // max(width, 1))


def _bands(height: int, width: int) -> Iterator[tuple[int, int]]:
    """The row ranges of the bands."""
    step = _band_rows(width)
    for top in range(0, height, step):
        yield top, min(top + step, height)


def _fill_image(width: int, colour: np.ndarray) -> np.ndarray:
    """A band-sized image of one colour, for :func:`_encode_band`."""
    image = np.empty((_band_rows(width), width, 3), np.uint8)
    image[:] = colour
    return image


def _encode_all(
    vectors: np.ndarray, out: np.ndarray, matrix: np.ndarray, colour: np.ndarray, min_length: float
) -> tuple[int, int]:
    """:func:`_encode_band` over a whole image, band by band; returns the summed counts."""
    height, width = vectors.shape[:2]
    fill = _fill_image(width, colour)
    background = nonfinite = 0
    for top, bottom in _bands(height, width):
        b, n = _encode_band(_float32(vectors[top:bottom]), out[top:bottom], matrix, fill, min_length)
        background, nonfinite = background + b, nonfinite + n
    return background, nonfinite


def _float32(band: np.ndarray) -> np.ndarray:
    """A contiguous float32 copy or view; half floats through OpenCV (about 20 times faster than numpy's cast)."""
    if band.dtype == np.float16:
        return cv2.convertFp16(np.ascontiguousarray(band))
    return np.ascontiguousarray(band, dtype=np.float32)


def _check_vectors(normals: np.ndarray) -> np.ndarray:
    array = np.asarray(normals)
    if array.ndim != 3 or array.shape[2] != 3 or array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"expected a (height, width, 3) array of normals, got shape {array.shape}")
    if array.dtype.kind != "f":
        raise ValueError(f"expected float normals, got {array.dtype}")
    return array


# --------------------------------------------------------------------------------------------------------------
# Normals from depth


def _view_axes(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel centres relative to the optical axis, in pixels: u to the right (width,), v downward (height,)."""
    u = np.arange(width, dtype=np.float32) + np.float32(0.5 - width / 2)
    v = np.arange(height, dtype=np.float32) + np.float32(0.5 - height / 2)
    return u, v


def _steps(z: np.ndarray, axis: int, max_slope: float, focal: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Depth steps between neighbours along ``axis``, which of them are surface, and the bends between them.

    ``steps`` is padded with NaN so that ``steps[k + 1] = z[k] - z[k - 1]`` along the axis: pixel j sees its steps
    two and one behind and one and two ahead at ``steps[j : j + 4]``. A step is surface (``usable``) when it is no
    steeper than ``max_slope`` (tan of the angle from facing the camera) at the nearer of its two depths:
    ``|step| <= max_slope * depth / focal``; NaN steps are not. ``bends[k] = |steps[k + 1] - steps[k]|``.
    """

    def along(start: int | None, stop: int | None) -> tuple[slice, ...]:
        return (slice(start, stop),) if axis == 0 else (slice(None), slice(start, stop))

    shape = list(z.shape)
    shape[axis] += 3
    steps = np.full(shape, np.nan, np.float32)
    inner = steps[along(2, -2)]
    np.subtract(z[along(1, None)], z[along(None, -1)], out=inner)
    limit = np.minimum(z[along(1, None)], z[along(None, -1)])
    limit *= np.float32(max_slope / focal)
    usable = np.zeros(shape, bool)
    np.less_equal(np.abs(inner), limit, out=usable[along(2, -2)])  # NaN: False
    bends = np.abs(np.subtract(steps[along(1, None)], steps[along(None, -1)]))
    return steps, usable, bends


def _derivative(
    steps: np.ndarray, usable: np.ndarray, bends: np.ndarray, axis: int, first: int, count: int, smooth: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The depth derivative along ``axis`` of pixels ``first : first + count`` (along it), edge-aware.

    From :func:`_steps`. Where the steps on both sides agree within ``smooth`` the surface is smooth there: their
    mean. Otherwise one side: the straighter one (whose step differs less from the step beyond it) when both can be
    judged, else the smaller step, else the only usable one. A pixel on a crease thus takes the slope of its own
    face, and one beside a silhouette the slope of its own surface.

    Returns the derivative, where it exists, and where both sides agreed (the pixel is inside a smooth surface).
    """

    def at(array: np.ndarray, k: int) -> np.ndarray:
        return array[first + k : first + k + count] if axis == 0 else array[:, first + k : first + k + count]

    back, ahead = at(steps, 1), at(steps, 2)
    ok_back, ok_ahead = at(usable, 1), at(usable, 2)
    both = ok_back & ok_ahead
    agree = both & (at(bends, 1) <= smooth)
    judged = both & at(usable, 0) & at(usable, 3)
    straighter = at(bends, 0) <= at(bends, 2)
    smaller = np.abs(back) <= np.abs(ahead)
    take_back = (ok_back & ~ok_ahead) | (both & np.where(judged, straighter, smaller))
    derivative = np.array(ahead, copy=True)
    cv2.copyTo(back, take_back.view(np.uint8), derivative)
    mean = back + ahead
    mean *= np.float32(0.5)
    cv2.copyTo(mean, agree.view(np.uint8), derivative)
    return derivative, ok_back | ok_ahead, agree


def _depth_band(
    depth: np.ndarray, valid: np.ndarray, top: int, bottom: int, focal: float, depth_kind: str, max_slope: float
) -> tuple[np.ndarray, np.ndarray]:
    """Camera-space normals (not normalised; zero where there is none) of rows ``top:bottom``, shape
    (rows, width, 3), and where both axes used central differences (the pixel is inside a smooth surface).

    With planar depth z(u, v), the surface point of pixel (u, v) is ``z · (u/f, -v/f, -1)``; the cross product of
    its derivatives along u and v is ``-z/f² · (f z_u, -f z_v, z + u z_u + v z_v)``. The normal is that vector's
    opposite, which always faces the camera (its dot product with the direction to the camera is z > 0).
    """
    height, width = depth.shape
    lo, hi = max(top - 2, 0), min(bottom + 2, height)
    z = np.array(depth[lo:hi], np.float32)
    np.putmask(z, ~valid[lo:hi], np.float32(np.nan))
    u, v = _view_axes(height, width)
    v = v[lo:hi, None]
    f = np.float32(focal)
    if depth_kind == "euclidean":  # distance along the ray -> distance along the axis
        z *= f / np.sqrt(u * u + v * v + f * f)
    first, last = top - lo, bottom - lo
    zc = z[first:last]
    smooth = zc * np.float32(SMOOTH_SLOPE / focal)  # slopes that agree within SMOOTH_SLOPE

    dz_du, has_u, agree_u = _derivative(*_steps(zc, 1, max_slope, focal), 1, 0, width, smooth)
    dz_dv, has_v, agree_v = _derivative(*_steps(z, 0, max_slope, focal), 0, first, last - first, smooth)

    third = dz_du * u
    third += dz_dv * v[first:last]
    third += zc
    normals = cv2.merge([dz_du * f, dz_dv * -f, third])
    has = has_u & has_v & valid[top:bottom]
    cv2.copyTo(np.zeros_like(normals), (~has).view(np.uint8), normals)
    return normals, agree_u & agree_v & has


def _check_depth(depth: np.ndarray, valid: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    array = np.asarray(depth)
    if array.ndim != 2 or array.size == 0 or array.dtype.kind not in "fiu":
        raise ValueError(f"expected a 2-D array of depths, got {array.dtype} {array.shape}")
    array = array.astype(np.float32, copy=False)
    if valid is None:
        valid = valid_depth(array)
    elif np.shape(valid) != array.shape:
        raise ValueError(f"the valid mask is {np.shape(valid)}, the depth {array.shape}")
    return array, np.asarray(valid, bool)


def normals_from_depth(
    depth: np.ndarray,
    valid: np.ndarray | None = None,
    camera: Camera = DEFAULT_CAMERA,
    depth_kind: str = "planar",
    max_slope: float = MAX_SLOPE,
) -> np.ndarray:
    """Unit camera-space normals (height, width, 3) float32 from a depth canvas; (0, 0, 0) where there is none.

    Each pixel is back-projected through ``camera``; its derivatives are one-sided differences toward the flatter
    neighbour (the mean of both where they agree), and a step steeper than ``max_slope`` is an edge. Pixels
    without a usable neighbour along an axis (isolated, or between edges) and invalid depth get no normal.

    Parameters
    ----------
    depth:
        Depth in any unit (height, width); ``valid`` marks the real depths (default: finite, > 0, below 1e9).
    depth_kind:
        ``"planar"`` or ``"euclidean"`` (see the module docstring).
    """
    NormalParams(depth_kind=depth_kind, max_slope=max_slope)  # validates
    depth, valid = _check_depth(depth, valid)
    height, width = depth.shape
    focal = camera.focal_pixels(width)
    out = np.zeros((height, width, 3), np.float32)
    for top, bottom in _bands(height, width):
        normals, _ = _depth_band(depth, valid, top, bottom, focal, depth_kind, max_slope)
        length = np.sqrt(np.einsum("ijk,ijk->ij", normals, normals))
        np.divide(normals, length[..., None], out=out[top:bottom], where=length[..., None] > 0)
    return out


def normal_map_from_depth(
    depth: np.ndarray,
    params: NormalParams = DEFAULT_PARAMS,
    valid: np.ndarray | None = None,
    camera: Camera = DEFAULT_CAMERA,
) -> NormalMap:
    """The normal map of a depth canvas (see :func:`normals_from_depth`), encoded as ``params`` says.

    Works from the float depth, so unlike ControlNet's preprocessors (which start from an 8-bit image) it has no
    quantisation steps, and it knows the camera. Pixels without a normal (background, edges) are background.
    """
    depth, valid = _check_depth(depth, valid)
    height, width = depth.shape
    focal = camera.focal_pixels(width)
    matrix = _encoding(params.convention)
    fill = _fill_image(width, _background_colour(params.convention, params.background))
    image = np.empty((height, width, 3), np.uint8)
    background = 0
    for top, bottom in _bands(height, width):
        normals, _ = _depth_band(depth, valid, top, bottom, focal, params.depth_kind, params.max_slope)
        b, _ = _encode_band(normals, image[top:bottom], matrix, fill, MIN_LENGTH)
        background += b
    notes = [f"normals computed from the {params.depth_kind} depth with a {camera.describe()}"]
    if background == image.shape[0] * image.shape[1]:
        notes.insert(0, "no pixel has a normal: the depth holds no surface two pixels wide")
    report = NormalReport(
        "depth",
        "camera",
        params.convention,
        params.background,
        camera,
        background_pixels=background,
        notes=tuple(notes),
    )
    return NormalMap(image, report)


# --------------------------------------------------------------------------------------------------------------
# Normal canvas


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
    u, v = _view_axes(height, width)
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
    depth, valid = _check_depth(depth, valid)
    width = depth.shape[1]
    focal = camera.focal_pixels(width)
    normals = np.zeros((len(sample.rows), len(sample.cols), 3))
    interior = np.zeros((len(sample.rows), len(sample.cols)), bool)
    for i, row in enumerate(sample.rows):
        band, inside = _depth_band(depth, valid, int(row), int(row) + 1, focal, params.depth_kind, params.max_slope)
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
        return None, "", error(_IDENTITY), notes
    if pairs is not None:
        fit = fit_rotation(*pairs)
        if not fit.well_posed:
            notes.append("the rotation fit is poorly determined: nearly all normals point one way (one flat surface?)")
        candidates = [("depth fit", fit.rotation, fit.median_error_deg)]
        if header_rotation is not None:
            candidates.append(("header", header_rotation, error(header_rotation)))
        source, rotation, best = min(candidates, key=lambda c: c[2])
        as_written = error(_IDENTITY)
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
    vectors = _check_vectors(normals)
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
    transform = (rotation if rotation is not None else _IDENTITY) @ flips
    image = np.empty(vectors.shape, np.uint8)
    fill = _background_colour(params.convention, params.background)
    background, nonfinite = _encode_all(
        vectors, image, _encoding(params.convention, transform), fill, params.min_length
    )

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
