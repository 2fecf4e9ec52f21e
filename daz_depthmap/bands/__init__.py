"""Depth bands: the plan, its levels, the text form, region maps and colours."""
