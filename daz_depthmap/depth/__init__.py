"""Depth: statistics, the window, the mapping to levels, the histogram and the suggestion."""
