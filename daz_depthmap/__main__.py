"""``python -m daz_depthmap``: the command line."""

import sys

from .cli import main

sys.exit(main())
