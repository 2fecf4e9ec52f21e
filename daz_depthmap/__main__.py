"""``python -m daz_depthmap``: the command line."""

import sys

try:
    from .cli.main import main
except ModuleNotFoundError as exc:  # a Python without the project's packages: say how to get them
    print(
        f"error: this Python ({sys.executable}) lacks the package {exc.name!r}: run `{sys.executable} -m pip install "
        '"numpy>=1.24" "OpenEXR>=3.3,<4"`, or use the project\'s own Python (`.venv/bin/python -m daz_depthmap`, '
        "made by `make run` or `make test`)",
        file=sys.stderr,
    )
    sys.exit(2)
except KeyboardInterrupt:  # Ctrl+C while the packages load: as main() says it
    print("interrupted; no output is left half-written", file=sys.stderr)
    sys.exit(130)

sys.exit(main())
