"""A DAZ Studio render's canvases: the set, the camera, the beauty and the normal maps."""
