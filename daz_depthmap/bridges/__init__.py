"""Bridges to the WebUI's page: other extensions' components (sd-webui-controlnet now; Regional Prompter and Forge's
built-in ControlNet join the same interface) and the WebUI's own controls, as send targets (:mod:`.base`), and the
send block that delivers images into them (:mod:`.send`). Imported only inside the WebUI (and its stand-in)."""
