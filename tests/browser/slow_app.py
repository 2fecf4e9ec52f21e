"""The standalone app with a slow preview: a far cutoff of exactly 280 takes 5 s to render (longer than the page's
4 s watchdog), every other one is as fast as usual. For the live path's tests; run as a script."""

from __future__ import annotations

import sys
import time

from daz_depthmap import app
from daz_depthmap.params import DepthParams
from daz_depthmap.session.loaded import LoadedFile, Preview

SLOW_CUTOFF = 280.0
SLOW_SECONDS = 5.0

_render = LoadedFile.render_preview


def _slow_render(self: LoadedFile, params: DepthParams, *args: object) -> Preview:
    if params.depth_cutoff == SLOW_CUTOFF:
        time.sleep(SLOW_SECONDS)
    return _render(self, params, *args)


if __name__ == "__main__":
    LoadedFile.render_preview = _slow_render  # type: ignore[method-assign]
    app.main(sys.argv[1:])
