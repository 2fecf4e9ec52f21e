"""DAZ Depth tab for the AUTOMATIC1111 WebUI: registrations only (the work is in ``daz_depthmap.webui.extension``)."""

from daz_depthmap.webui.extension import Extension, script_callbacks

extension = Extension()  # one per load: Reload UI runs this file again
extension.register(script_callbacks)
