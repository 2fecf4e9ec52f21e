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


def shown_picture(page: object, selector: str, mode: str = "L") -> np.ndarray:
    """The picture the ``<img>`` at ``selector`` shows now, in PIL ``mode`` (grey levels unless asked), whatever its
    source (gradio 3's data URL, gradio 4's served file, the preview route's blob URL): fetched by the page itself.
    Anything but a PNG fails: a lossy preview would hide wrong pixels."""
    from PIL import Image

    data = page.evaluate(  # type: ignore[attr-defined]
        """async (sel) => { const src = document.querySelector(sel).src;
            const bytes = new Uint8Array(await (await fetch(src)).arrayBuffer());
            let text = ''; for (let i = 0; i < bytes.length; i++) text += String.fromCharCode(bytes[i]);
            return btoa(text); }""",
        selector,
    )
    raw = base64.b64decode(data)
    assert raw.startswith(b"\x89PNG"), f"not a PNG (a lossy preview?) at {selector}"
    return np.asarray(Image.open(io.BytesIO(raw)).convert(mode))
