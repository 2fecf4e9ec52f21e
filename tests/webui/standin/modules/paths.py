"""Stand-in of modules/paths.py: re-exports the paths of paths_internal."""

from modules.paths_internal import cwd, data_path, extensions_builtin_dir, extensions_dir, models_path, script_path

__all__ = ["cwd", "data_path", "extensions_builtin_dir", "extensions_dir", "models_path", "script_path"]
