"""DAZ-like depth scenes for the samples, the tests and the benchmarks.

:func:`daz_like_depth`: a figure (head, torso, arm) 170..282 cm from the camera in front of a tilted backdrop at
598..606 cm, the figure's silhouette feathered toward the backdrop as Iray's pixel filter does, a few pixels where
rays hit nothing (+inf), and a little sensor noise.

:func:`two_subject_depth`: two figures at clearly different depths (150..210 cm on the left, 330..400 cm on the
right) in front of a backdrop at about 800 cm, for band plans and their suggested splits.
"""

from __future__ import annotations

import os

import numpy as np


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
    import OpenEXR

    pixels = np.ascontiguousarray(depth, dtype=np.float16 if half else np.float32)
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    OpenEXR.File(header, {channel: pixels}).write(str(path))
