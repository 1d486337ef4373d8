"""Command-line plumbing shared by the ``train`` scripts: argparse mirrored from a config dataclass."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import types
import typing
from typing import Any, TypeVar

from focusmim_core.errors import InputError

Config = TypeVar("Config")


def _base_type(annotation: Any) -> type:
    """The scalar type of an annotation like ``int | None`` (``int``)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return next(a for a in typing.get_args(annotation) if a is not type(None))
    return annotation


def add_config_arguments(
    parser: argparse.ArgumentParser,
    config: type,
    positional: tuple[str, ...] = (),
    choices: dict[str, tuple[str, ...]] | None = None,
    helps: dict[str, str] | None = None,
) -> None:
    """One ``--field-name`` option per dataclass field (``positional`` ones as positionals), same defaults.

    Booleans become ``--flag/--no-flag``. Field types must be resolvable (``str``, ``int``, ``float``,
    ``bool``, optionally ``| None``).
    """
    hints = typing.get_type_hints(config)
    for item in dataclasses.fields(config):
        kind = _base_type(hints[item.name])
        default = item.default if item.default is not dataclasses.MISSING else None
        text = (helps or {}).get(item.name, "")
        shown = "" if item.name in positional else f" (default: {default})"
        kwargs: dict[str, Any] = {"help": f"{text}{shown}".strip()}
        if (choices or {}).get(item.name):
            kwargs["choices"] = choices[item.name]  # type: ignore[index]
        if item.name in positional:
            parser.add_argument(item.name, type=kind, **kwargs)
        elif kind is bool:
            parser.add_argument(
                f"--{item.name.replace('_', '-')}", action=argparse.BooleanOptionalAction, default=default, **kwargs
            )
        else:
            parser.add_argument(f"--{item.name.replace('_', '-')}", type=kind, default=default, **kwargs)


def config_from_args(config: type[Config], args: argparse.Namespace) -> Config:
    """The dataclass ``config`` filled from parsed arguments."""
    return config(**{item.name: getattr(args, item.name) for item in dataclasses.fields(config)})  # type: ignore[call-arg]


def fail(error: InputError) -> int:
    """Print a user error (no traceback) and return exit status 2."""
    print(f"error: {error}", file=sys.stderr)
    return 2
