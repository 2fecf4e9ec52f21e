"""The AUTOMATIC1111 WebUI and Forge: the extension, the other extensions' components it sends to, the send blocks."""
