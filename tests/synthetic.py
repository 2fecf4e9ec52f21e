"""DAZ-like depth scenes and canvas sets for the samples, the tests and the benchmarks.

:func:`daz_like_depth`: a figure (head, torso, arm) 170..282 cm from the camera in front of a tilted backdrop at
598..606 cm, the figure's silhouette feathered toward the backdrop as Iray's pixel filter does, a few pixels where
rays hit nothing (+inf), and a little sensor noise.

:func:`two_subject_depth`: two figures at clearly different depths (150..210 cm on the left, 330..400 cm on the
right) in front of a backdrop at about 800 cm, for band plans and their suggested splits.

:func:`render_canvases`: the Depth and Normal canvases of spheres, boxes and planes ray-cast through a pinhole
camera, with analytic normals.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Union

import numpy as np

from daz_depthmap.chunks import pixel_slices


def daz_like_depth(height: int = 800, width: int = 640, seed: int = 0, inf_pixels: int = 24) -> np.ndarray:
    """A float32 depth canvas in centimetres, as DAZ Studio's Iray "Depth" canvas writes it."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    u = (x - width / 2) / min(width, height)
    v = (y - height / 2) / min(width, height)
    backdrop = 598.0 + 8.0 * (y / max(height - 1, 1))  # tilted: 598 at the top, 606 at the bottom
    depth = backdrop.copy()
    # Figure parts as ellipsoids: (centre u, centre v, radius u, radius v, nearest depth, thickness)
    parts = [
        (0.0, -0.28, 0.09, 0.11, 176.0, 22.0),  # head
        (0.0, 0.02, 0.17, 0.22, 190.0, 48.0),  # torso
        (0.2, 0.05, 0.05, 0.2, 170.0, 40.0),  # arm reaching forward
        (-0.06, 0.34, 0.06, 0.16, 215.0, 30.0),  # legs
        (0.07, 0.34, 0.06, 0.16, 230.0, 30.0),
    ]
    coverage = np.zeros_like(depth)
    for cu, cv, ru, rv, near, thick in parts:
        r2 = ((u - cu) / ru) ** 2 + ((v - cv) / rv) ** 2
        inside = r2 < 1.0
        surface = near + thick * (1.0 - np.sqrt(np.clip(1.0 - r2, 0.0, 1.0)))
        closer = inside & (surface < depth)
        depth[closer] = surface[closer]
        # soft edge: a pixel wide ring where the filter mixes figure and backdrop
        ring = (r2 >= 1.0) & (r2 < 1.0 + 6.0 / (min(width, height) * min(ru, rv)))
        coverage = np.maximum(coverage, np.where(ring, rng.random(depth.shape, np.float32), 0.0))
    feather = (coverage > 0) & (depth > 500)
    depth[feather] = (1 - coverage[feather]) * depth[feather] + coverage[feather] * (near + thick)
    depth += rng.normal(0.0, 0.05, depth.shape).astype(np.float32)
    holes = rng.choice(depth.size, size=min(inf_pixels, depth.size), replace=False)
    depth.flat[holes] = np.inf
    return depth.astype(np.float32)


def two_subject_depth(height: int = 800, width: int = 640, seed: int = 0, inf_pixels: int = 24) -> np.ndarray:
    """A float32 depth canvas in centimetres with two figures at different depths in front of a backdrop.

    The near figure (left of centre) spans 150..210 cm, the far one (right of centre, smaller on screen) 330..400
    cm; the backdrop is tilted from 796 cm at the top to 804 cm at the bottom. Each figure's silhouette is
    feathered one or two pixels wide into what lies behind it, as Iray's pixel filter does, so the gaps between
    the depths are near-empty rather than empty. ``inf_pixels`` pixels are +inf (rays that hit nothing) and there
    is a little sensor noise. The same ``seed`` gives the same canvas.
    """
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    scale = min(width, height)
    u, v = (x - width / 2) / scale, (y - height / 2) / scale
    depth = 796.0 + 8.0 * (y / max(height - 1, 1))
    # (centre u, centre v, radius u, radius v, nearest depth, thickness): far figure first, near one over it
    figures = [
        [
            (0.24, -0.16, 0.06, 0.07, 330.0, 18.0),  # head
            (0.24, 0.04, 0.11, 0.16, 338.0, 40.0),  # torso
            (0.2, 0.28, 0.045, 0.12, 352.0, 44.0),  # legs
            (0.28, 0.28, 0.045, 0.12, 350.0, 46.0),
        ],
        [
            (-0.2, -0.26, 0.09, 0.11, 150.0, 22.0),  # head
            (-0.2, 0.04, 0.17, 0.22, 160.0, 40.0),  # torso
            (-0.27, 0.34, 0.06, 0.16, 168.0, 40.0),  # legs
            (-0.13, 0.34, 0.06, 0.16, 170.0, 38.0),
        ],
    ]
    for parts in figures:
        behind = depth.copy()
        covered = np.zeros(depth.shape, bool)
        ring = np.zeros(depth.shape, bool)
        for cu, cv, ru, rv, near, thick in parts:
            r2 = ((u - cu) / ru) ** 2 + ((v - cv) / rv) ** 2
            inside = r2 < 1.0
            surface = near + thick * (1.0 - np.sqrt(np.clip(1.0 - r2, 0.0, 1.0)))
            closer = inside & (surface < depth)
            depth[closer] = surface[closer]
            covered |= inside
            ring |= (r2 >= 1.0) & (r2 < 1.0 + 4.0 / (scale * min(ru, rv)))
        edge = ring & ~covered
        # the pixel filter mixes the figure's silhouette depth with what lies behind it
        mix = rng.random(int(np.count_nonzero(edge))).astype(np.float32)
        silhouette = max(near + thick for *_, near, thick in parts)
        depth[edge] = mix * behind[edge] + (1 - mix) * silhouette
    depth += rng.normal(0.0, 0.05, depth.shape).astype(np.float32)
    holes = rng.choice(depth.size, size=min(inf_pixels, depth.size), replace=False)
    depth.flat[holes] = np.inf
    return depth.astype(np.float32)


def write_depth_exr(path: str | os.PathLike[str], depth: np.ndarray, channel: str = "Y", half: bool = False) -> None:
    """Write a single-channel depth EXR (ZIP compression), as DAZ Studio does."""
    _write_exr(path, {channel: depth}, half)


def _write_exr(path: str | os.PathLike[str], channels: dict[str, np.ndarray], half: bool) -> None:
    import OpenEXR

    dtype = np.float16 if half else np.float32
    pixels = {name: np.ascontiguousarray(array, dtype=dtype) for name, array in channels.items()}
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    OpenEXR.File(header, pixels).write(str(path))


# --------------------------------------------------------------------------------------------------------------
# Canvas sets: analytic normals and depth of simple solids, rendered through a pinhole camera
#
# Camera space as in daz_depthmap.canvas.normals: x right, y up, z toward the viewer, the camera at the origin looking
# down -z; pixel (row i, column j) looks along (u/f, -v/f, -1) with u = j + 0.5 - width/2, v = i + 0.5 - height/2 and f
# the focal length in pixels (focal / film width * image width). Everything here is computed from the geometry
# alone, independently of daz_depthmap.canvas.normals, so that the tests can check one against the other.


@dataclass(frozen=True)
class Sphere:
    centre: tuple[float, float, float]
    radius: float


@dataclass(frozen=True)
class Box:
    """A box: centre, half edge lengths along its own axes, and those axes (unit vectors in camera space), one per
    row of ``axes``."""

    centre: tuple[float, float, float]
    half_size: tuple[float, float, float]
    axes: tuple[tuple[float, float, float], ...] = ((1, 0, 0), (0, 1, 0), (0, 0, 1))


@dataclass(frozen=True)
class Plane:
    """An infinite plane (a backdrop) through ``point`` with normal ``normal``."""

    point: tuple[float, float, float]
    normal: tuple[float, float, float]


Solid = Union[Sphere, Box, Plane]


@dataclass(frozen=True, eq=False)
class CanvasScene:
    """What Iray's canvases would hold for a scene, in camera space.

    Attributes
    ----------
    depth:
        float32 (height, width): planar depth (distance along -z), +inf where no ray hits.
    distance:
        float32 (height, width): distance from the camera along each ray (Euclidean), +inf where no ray hits.
    normals:
        float32 (height, width, 3): unit camera-space normals, zero where no ray hits (shorter than one at
        silhouettes when supersampled).
    ids:
        int16 (height, width): index of the solid hit (in the order given), -1 for none; -2 for a supersampled
        pixel that mixes solids.
    """

    depth: np.ndarray
    distance: np.ndarray
    normals: np.ndarray
    ids: np.ndarray


def rotation_matrix(yaw: float = 0.0, pitch: float = 0.0, roll: float = 0.0) -> np.ndarray:
    """A rotation (3x3) from angles in degrees: ``roll`` about z, then ``pitch`` about x, then ``yaw`` about y."""
    a, b, c = np.radians([yaw, pitch, roll])
    turn_y = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    turn_x = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    turn_z = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return turn_y @ turn_x @ turn_z


def _hit(solid: Solid, rays: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Planar depth t (inf for a miss) and unit normals of the nearest hit along rays ``t * rays`` (n, 3)."""
    n = len(rays)
    t = np.full(n, np.inf)
    normals = np.zeros((n, 3))
    with np.errstate(invalid="ignore", divide="ignore"):
        if isinstance(solid, Sphere):
            c = np.asarray(solid.centre, float)
            a = np.einsum("ij,ij->i", rays, rays)
            b = rays @ c
            disc = b * b - a * (c @ c - solid.radius**2)
            near = (b - np.sqrt(disc)) / a
            hit = (disc >= 0) & (near > 0)
            t[hit] = near[hit]
            normals[hit] = (t[hit, None] * rays[hit] - c) / solid.radius
        elif isinstance(solid, Plane):
            normal = np.asarray(solid.normal, float) / np.linalg.norm(solid.normal)
            facing = rays @ normal
            along = (np.asarray(solid.point, float) @ normal) / facing
            hit = np.isfinite(along) & (along > 0)
            t[hit] = along[hit]
            normals[hit] = np.where(facing[hit, None] > 0, -normal, normal)
        else:
            axes = np.asarray(solid.axes, float).T  # columns: the box's axes in camera space
            half = np.asarray(solid.half_size, float)
            origin = -np.asarray(solid.centre, float) @ axes  # the camera in box coordinates
            direction = rays @ axes
            low, high = (-half - origin) / direction, (half - origin) / direction
            first, last = np.minimum(low, high), np.maximum(low, high)
            near, far = first.max(axis=1), last.min(axis=1)
            hit = (near <= far) & (near > 0)
            t[hit] = near[hit]
            face = first.argmax(axis=1)[hit]
            sign = -np.sign(direction[hit, face])
            normals[hit] = axes.T[face] * sign[:, None]
    return t, normals


def render_canvases(
    height: int,
    width: int,
    solids: tuple[Solid, ...],
    focal_mm: float = 65.0,
    film_mm: float = 36.0,
    supersample: int = 1,
) -> CanvasScene:
    """Ray-cast ``solids`` through a pinhole camera (DAZ Studio's default 65 mm lens on a 36 mm film width).

    With ``supersample`` s > 1 each pixel averages s x s rays, as a renderer's pixel filter does: normals are
    averaged (so silhouette pixels are shorter than one), depth is the mean over the rays that hit when at least
    half hit (a silhouette against a backdrop gets an in-between depth), else +inf.
    """
    import cv2

    s = int(supersample)
    rows, cols = height * s, width * s
    f = focal_mm / film_mm * cols
    u = np.arange(cols) + 0.5 - cols / 2
    depth = np.full(rows * cols, np.inf, np.float32)
    normals = np.zeros((rows * cols, 3), np.float32)
    ids = np.full(rows * cols, -1, np.int16)
    for part in pixel_slices(rows * cols):
        row, col = np.divmod(np.arange(part.start, part.stop), cols)
        rays = np.stack([u[col] / f, -(row + 0.5 - rows / 2) / f, np.full(len(row), -1.0)], axis=-1)
        for index, solid in enumerate(solids):
            t, n = _hit(solid, rays)
            closer = t < depth[part]
            depth[part][closer], normals[part][closer], ids[part][closer] = t[closer], n[closer], index
    depth, normals, ids = depth.reshape(rows, cols), normals.reshape(rows, cols, 3), ids.reshape(rows, cols)
    ray_length = np.sqrt((u[None, :] / f) ** 2 + ((np.arange(rows) + 0.5 - rows / 2)[:, None] / f) ** 2 + 1)
    distance = (depth * ray_length).astype(np.float32)
    if s > 1:
        size = (width, height)
        hits = np.isfinite(depth).astype(np.float32)
        share = cv2.resize(hits, size, interpolation=cv2.INTER_AREA)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_depth = cv2.resize(np.where(hits > 0, depth, 0), size, interpolation=cv2.INTER_AREA) / share
            mean_distance = cv2.resize(np.where(hits > 0, distance, 0), size, interpolation=cv2.INTER_AREA) / share
        depth = np.where(share >= 0.5, mean_depth, np.inf).astype(np.float32)
        distance = np.where(share >= 0.5, mean_distance, np.inf).astype(np.float32)
        normals = cv2.resize(normals, size, interpolation=cv2.INTER_AREA)
        blocks = ids.reshape(height, s, width, s)
        same = (blocks == blocks[:, :1, :, :1]).all(axis=(1, 3))
        ids = np.where(same, blocks[:, 0, :, 0], -2).astype(np.int16)
    return CanvasScene(depth, distance, normals, ids)


def figure_scene() -> tuple[Solid, ...]:
    """A sphere and a turned box in front of a backdrop 6 m away: the solids of the canvas tests and benchmark."""
    box_axes = rotation_matrix(yaw=35, pitch=25)
    return (
        Sphere((-30.0, 8.0, -260.0), 32.0),
        Box((32.0, -6.0, -250.0), (18.0, 24.0, 15.0), tuple(map(tuple, box_axes.T))),
        Plane((0.0, 0.0, -600.0), (0.0, 0.0, 1.0)),
    )


def to_world(normals: np.ndarray, world_to_camera: np.ndarray) -> np.ndarray:
    """Camera-space normals (height, width, 3) turned into the world space that ``world_to_camera`` maps from."""
    return (normals @ np.asarray(world_to_camera, np.float64)).astype(np.float32)


def write_vectors_exr(
    path: str | os.PathLike[str],
    vectors: np.ndarray,
    channels: tuple[str, str, str] = ("R", "G", "B"),
    half: bool = False,
) -> None:
    """Write a three-channel canvas EXR (ZIP compression), as DAZ Studio writes the Normal canvas."""
    _write_exr(path, {name: vectors[..., i] for i, name in enumerate(channels)}, half)
