"""DAZ-like depth scenes for the sample, the tests and the benchmark.

A figure (head, torso, arm) 170..282 cm from the camera in front of a tilted backdrop at 598..606 cm, the
figure's silhouette feathered toward the backdrop as Iray's pixel filter does, a few pixels where rays hit nothing
(+inf), and a little sensor noise.
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


def write_depth_exr(path: str | os.PathLike[str], depth: np.ndarray, channel: str = "Y", half: bool = False) -> None:
    """Write a single-channel depth EXR (ZIP compression), as DAZ Studio does."""
    import OpenEXR

    pixels = np.ascontiguousarray(depth, dtype=np.float16 if half else np.float32)
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    OpenEXR.File(header, {channel: pixels}).write(str(path))
