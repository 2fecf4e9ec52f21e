"""How the browser tests start Debian's chromium (never a browser downloaded by Playwright), and what they read
from its pages."""

import base64
import io

import numpy as np

CHROMIUM = "/usr/bin/chromium"
#: Headless, no sandbox (CI runs as root), and none of Chromium's background connections: the machine has no
#: network beyond the package registries, and refused connections slow every start.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]


def shown_picture(page: object, selector: str) -> np.ndarray:
    """The picture the ``<img>`` at ``selector`` shows now, as grey levels, whatever its source (gradio's data or
    file URL, the preview route's blob URL): fetched by the page itself."""
    from PIL import Image

    data = page.evaluate(  # type: ignore[attr-defined]
        """async (sel) => { const src = document.querySelector(sel).src;
            const bytes = new Uint8Array(await (await fetch(src)).arrayBuffer());
            let text = ''; for (let i = 0; i < bytes.length; i++) text += String.fromCharCode(bytes[i]);
            return btoa(text); }""",
        selector,
    )
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("L"))
