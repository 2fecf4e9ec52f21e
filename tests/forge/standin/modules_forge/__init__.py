"""A stand-in for Forge's ``modules_forge`` package: only ``forge_canvas.canvas`` (ForgeCanvas)."""
