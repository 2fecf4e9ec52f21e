"""Text from files and users as a one-line message shows it (every stage's messages name files)."""

from __future__ import annotations


def shown_name(name: str) -> str:
    """A file name as a one-line message shows it: quoted (as Python quotes it) when it holds a line break, a tab or
    another control character, as it is otherwise."""
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return repr(name)
    return name
