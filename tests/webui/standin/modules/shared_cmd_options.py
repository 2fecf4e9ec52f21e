"""Stand-in of modules/shared_cmd_options.py: the command-line flags the extension and the stand-ins read."""

import argparse

cmd_opts = argparse.Namespace(
    api=False,
    nowebui=False,
    skip_install=False,
    hide_ui_dir_config=False,
    freeze_settings=False,
    data_dir=None,
)
