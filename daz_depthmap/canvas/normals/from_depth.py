"""Normals computed from the Depth canvas, and their normal map.

Iray documents its Depth canvas as the "depth of the hit point along the (negative) z-coordinate in camera space"
(``shared/facts/normal-maps.md`` §1.3).

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

import cv2
import numpy as np

from ...exr import valid_depth
from ..camera import DEFAULT_CAMERA, Camera
from .encoding import (
    DEFAULT_PARAMS,
    MAX_SLOPE,
    MIN_LENGTH,
    SMOOTH_SLOPE,
    NormalMap,
    NormalParams,
    NormalReport,
    background_colour,
    bands,
    encode_band,
    encoding,
    fill_image,
)


def view_axes(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
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


def depth_band(
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
    u, v = view_axes(height, width)
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


def check_depth(depth: np.ndarray, valid: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
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
    depth, valid = check_depth(depth, valid)
    height, width = depth.shape
    focal = camera.focal_pixels(width)
    out = np.zeros((height, width, 3), np.float32)
    for top, bottom in bands(height, width):
        normals, _ = depth_band(depth, valid, top, bottom, focal, depth_kind, max_slope)
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
    depth, valid = check_depth(depth, valid)
    height, width = depth.shape
    focal = camera.focal_pixels(width)
    matrix = encoding(params.convention)
    fill = fill_image(width, background_colour(params.convention, params.background))
    image = np.empty((height, width, 3), np.uint8)
    background = 0
    for top, bottom in bands(height, width):
        normals, _ = depth_band(depth, valid, top, bottom, focal, params.depth_kind, params.max_slope)
        b, _ = encode_band(normals, image[top:bottom], matrix, fill, MIN_LENGTH)
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
