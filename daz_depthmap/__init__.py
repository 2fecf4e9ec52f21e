"""DAZ depth EXR to ControlNet depth map: a pure numeric core, a command line, and a WebUI/standalone tab."""

__version__ = "0.1.0"
