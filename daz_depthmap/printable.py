"""Text from files and users as a one-line message shows it (every stage's messages name files)."""

from __future__ import annotations

import unicodedata

#: A label (a band's, from a recipe or ``--bands``) is shown with at most this many characters.
LABEL_CHARS = 60

#: Unicode categories a terminal would act on rather than show: controls, format characters (bidirectional
#: overrides among them), line and paragraph separators, surrogates.
_UNSHOWN = {"Cc", "Cf", "Zl", "Zp", "Cs"}


def shown_name(name: str) -> str:
    """A file name as a one-line message shows it: quoted (as Python quotes it) when it holds a line break, a tab or
    another control character, as it is otherwise."""
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return repr(name)
    return name


def one_line(text: str) -> str:
    """A message as one line: what a terminal would act on (a line break from a name that reached it unquoted, an
    escape sequence) written as Python escapes it."""
    return "".join(_escaped(c) if unicodedata.category(c) in _UNSHOWN else c for c in text)


def shown_label(label: str, limit: int = LABEL_CHARS) -> str:
    """A label from a file or a user (a band's) as a one-line message shows it: characters a terminal would act on
    (escape sequences, line breaks, bidirectional overrides) written as Python escapes them, and no more than
    ``limit`` characters of the label, the rest said as ``…``."""
    return one_line(label[:limit]) + ("…" if len(label) > limit else "")


def _escaped(c: str) -> str:
    code = ord(c)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
