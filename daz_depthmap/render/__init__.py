"""Rendering: one depth image and a job in, the outputs out (the pipeline, recipes and the job)."""
