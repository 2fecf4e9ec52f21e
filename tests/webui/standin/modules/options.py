"""Stand-in of modules/options.py: ``OptionInfo`` with the 1.10.1 signature and its chainable helpers, and an
``Options`` that stores values in ``data`` and descriptions in ``data_labels`` as the WebUI's does."""

from __future__ import annotations

from typing import Any, ClassVar


class OptionInfo:
    def __init__(
        self,
        default=None,
        label="",
        component=None,
        component_args=None,
        onchange=None,
        section=None,
        refresh=None,
        comment_before="",
        comment_after="",
        infotext=None,
        restrict_api=False,
        category_id=None,
    ):
        self.default = default
        self.label = label
        self.component = component
        self.component_args = component_args
        self.onchange = onchange
        self.section = section
        self.category_id = category_id
        self.refresh = refresh
        self.do_not_save = False
        self.comment_before = comment_before
        self.comment_after = comment_after
        self.infotext = infotext
        self.restrict_api = restrict_api

    def info(self, info):
        self.comment_after += f"<span class='info'>({info})</span>"
        return self

    def needs_reload_ui(self):
        self.comment_after += " <span class='info'>(requires Reload UI)</span>"
        return self

    def needs_restart(self):
        self.comment_after += " <span class='info'>(requires restart)</span>"
        return self


def options_section(section_identifier, options_dict):
    for info in options_dict.values():
        info.section = section_identifier[:2]
        if len(section_identifier) == 3:
            info.category_id = section_identifier[2]
    return options_dict


class Options:
    _own: ClassVar[set[str]] = {"data_labels", "data", "restricted_opts"}

    def __init__(self, data_labels: dict[str, OptionInfo], restricted_opts):
        self.data_labels = data_labels
        self.data = {key: info.default for key, info in data_labels.items() if not info.do_not_save}
        self.restricted_opts = restricted_opts

    def __getattr__(self, item: str) -> Any:
        if item in Options._own:
            return super().__getattribute__(item)
        if item in self.data:
            return self.data[item]
        if item in self.data_labels:
            return self.data_labels[item].default
        return super().__getattribute__(item)

    def add_option(self, key: str, info: OptionInfo) -> None:
        self.data_labels[key] = info
        if key not in self.data and not info.do_not_save:
            self.data[key] = info.default

    def set(self, key: str, value: Any) -> bool:
        if self.data.get(key) == value:
            return False
        self.data[key] = value
        return True
