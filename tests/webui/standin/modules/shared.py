"""Stand-in of modules/shared.py: ``opts`` (with the WebUI's own ``hidden_tabs`` setting), ``cmd_opts``,
``OptionInfo``, ``hide_dirs``."""

from modules import options, shared_cmd_options

cmd_opts = shared_cmd_options.cmd_opts
hide_dirs = {"visible": not cmd_opts.hide_ui_dir_config}

OptionInfo = options.OptionInfo
options_section = options.options_section

tab_names = []

opts = options.Options(
    options.options_section(
        ("ui", "User interface", "ui"),
        {"hidden_tabs": OptionInfo([], "Hidden UI tabs")},
    ),
    restricted_opts=set(),
)
