"""Stand-in of modules/paths_internal.py: the data folder comes from ``WEBUI_STANDIN_DATA_DIR`` (``--data-dir``)."""

import os

cwd = os.getcwd()
script_path = os.environ.get("WEBUI_STANDIN_SCRIPT_DIR", cwd)
data_path = os.environ.get("WEBUI_STANDIN_DATA_DIR", script_path)
models_path = os.path.join(data_path, "models")
extensions_dir = os.path.join(data_path, "extensions")
extensions_builtin_dir = os.path.join(script_path, "extensions-builtin")
default_output_dir = os.path.join(data_path, "outputs")
