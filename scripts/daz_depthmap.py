"""DAZ Depth tab for the AUTOMATIC1111 WebUI: registrations only (the work is in ``daz_depthmap.webui``)."""

from daz_depthmap.webui import Extension, script_callbacks

extension = Extension()  # one per load: Reload UI runs this file again

script_callbacks.on_before_ui(extension.forget_components, name="forget_components")
script_callbacks.on_after_component(extension.collect_component, name="collect_component")
script_callbacks.on_ui_settings(extension.add_settings, name="settings")
script_callbacks.on_ui_tabs(extension.tabs, name="tab")
