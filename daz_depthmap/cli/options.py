"""Described options as argparse arguments (the command line's and the standalone app's ``--max-pixels``)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from ..params import MAX_PIXELS, Option, parse_cutoff


def _bounded(option: Option) -> Callable[[str], int]:
    """An argparse type: a whole number within the option's bounds."""

    def whole_number(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if option.minimum is not None and value < option.minimum:
            raise argparse.ArgumentTypeError(f"expected {option.minimum} or more, got {value}")
        if option.maximum is not None and value > option.maximum:
            raise argparse.ArgumentTypeError(f"expected {option.maximum} or less, got {value}")
        return value

    return whole_number


def _cutoff(text: str) -> object:
    try:
        return parse_cutoff(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_option(parser: argparse.ArgumentParser, option: Option) -> None:
    """Add one described option to a parser (its flags, help, type and bounds)."""
    kwargs: dict[str, Any] = {"help": option.help, "dest": option.name}
    if option.kind == "bool":
        kwargs["action"] = "store_true"
    else:
        kwargs["default"] = option.default
        kwargs["metavar"] = option.metavar
        if option.kind == "cutoff":
            kwargs["type"] = _cutoff
        elif option.kind == "int":
            kwargs["type"] = _bounded(option)
        elif option.kind == "float":
            kwargs["type"] = float
        elif option.kind == "choice":
            kwargs["type"] = type(option.choices[0])
            kwargs["choices"] = option.choices
            kwargs.pop("metavar")
    parser.add_argument(*option.flags, **kwargs)


def add_max_pixels_argument(parser: argparse.ArgumentParser) -> None:
    """``--max-pixels``: the size limit checked from the header, shared by the command line and the app."""
    add_option(parser, MAX_PIXELS)
