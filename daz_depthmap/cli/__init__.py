"""The command line (``python -m daz_depthmap``, ``daz-depthmap``): its parser and the batch loop."""
