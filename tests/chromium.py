"""How the browser tests start Debian's chromium (never a browser downloaded by Playwright)."""

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
