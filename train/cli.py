"""Command-line plumbing shared by the ``train`` scripts: argparse mirrored from a config dataclass."""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import os
import sys
import types
import typing
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import torch

from focusmim_core.errors import InputError
from focusmim_core.runtime import configure_cpu_allocator

Config = TypeVar("Config")


def _base_type(annotation: Any) -> type:
    """The scalar type of an annotation like ``int | None`` (``int``)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return next(a for a in typing.get_args(annotation) if a is not type(None))
    return annotation


def option(
    default: Any,
    text: str,
    *,
    choices: Iterable[str] | None = None,
    aliases: tuple[str, ...] = (),
    switch: bool = False,
) -> Any:
    """A dataclass field that carries its command-line option: ``field(default=..., metadata=...)``.

    ``text`` is the help; ``choices`` (read from a registry) are listed in it and checked by
    ``check_choices``; ``aliases`` are other spellings of the option; a ``switch`` is a flag that
    takes no value.
    """
    metadata = {"help": text, "aliases": tuple(aliases), "switch": switch}
    if choices is not None:
        metadata["choices"] = tuple(choices)
    return dataclasses.field(default=default, metadata=metadata)


def option_name(name: str) -> str:
    """The command-line spelling of field ``name``: ``--name-with-dashes``."""
    return f"--{name.replace('_', '-')}"


def check_choices(config: object) -> None:
    """Raise ``InputError`` naming the option and its choices for a field outside its ``option(choices=...)``."""
    for item in dataclasses.fields(config):  # type: ignore[arg-type]
        value, choices = getattr(config, item.name), item.metadata.get("choices")
        if choices is not None and value is not None and value not in choices:
            raise InputError(f"Unknown {option_name(item.name)} {value!r}: use one of {', '.join(choices)}.")


def _help(item: dataclasses.Field, text: str, shown: bool) -> str:
    """An option's help: its text, its choices and its default."""
    choices = item.metadata.get("choices")
    default = item.default if item.default is not dataclasses.MISSING else None
    parts = [text, f"one of {', '.join(choices)}" if choices else "", f"default: {default}" if shown else ""]
    return "; ".join(part for part in parts if part)


def add_config_arguments(
    parser: argparse.ArgumentParser,
    config: type,
    positional: tuple[str, ...] = (),
    choices: dict[str, tuple[str, ...]] | None = None,
    aliases: dict[str, list[str]] | None = None,
    bool_values: bool = False,
    flags: tuple[str, ...] = (),
) -> None:
    """One ``--field-name`` option per dataclass field (``positional`` ones as positionals), same defaults.

    Help, aliases, choices and switches come from the fields' ``option`` metadata, or from the
    ``aliases``, ``choices`` (enforced by argparse) and ``flags`` arguments. Booleans
    become ``--flag/--no-flag``, or, with ``bool_values``, options taking ``True``/``False`` (the
    reference code's style); switches are plain flags. Field types must be resolvable (``str``,
    ``int``, ``float``, ``bool``, a fixed-length ``tuple``, optionally ``| None``).
    """
    hints = typing.get_type_hints(config)
    for item in dataclasses.fields(config):
        kind = _base_type(hints[item.name])
        default = item.default if item.default is not dataclasses.MISSING else None
        text = item.metadata.get("help", "")
        kwargs: dict[str, Any] = {"help": _help(item, text, shown=item.name not in positional)}
        if (choices or {}).get(item.name):
            kwargs["choices"] = choices[item.name]  # type: ignore[index]
        names = [option_name(item.name), *item.metadata.get("aliases", ()), *(aliases or {}).get(item.name, [])]
        if item.name in positional:
            parser.add_argument(item.name, type=kind, **kwargs)
        elif item.name in flags or item.metadata.get("switch"):
            parser.add_argument(*names, action="store_true", **kwargs)
        elif kind is bool and bool_values:
            parser.add_argument(*names, type=parse_bool, default=default, metavar="True|False", **kwargs)
        elif kind is bool:
            parser.add_argument(*names, action=argparse.BooleanOptionalAction, default=default, **kwargs)
        elif typing.get_origin(kind) is tuple:
            parts = typing.get_args(kind)
            parser.add_argument(*names, type=parts[0], nargs=len(parts), default=default, **kwargs)
        else:
            parser.add_argument(*names, type=kind, default=default, **kwargs)


def config_argv(
    config: object, bool_values: bool = False, flags: tuple[str, ...] = (), always: tuple[str, ...] = ()
) -> list[str]:
    """The command line that ``add_config_arguments`` parses back into ``config``: fields off their defaults
    and those named in ``always``.

    The inverse of the parser built with the same ``bool_values`` and ``flags`` (switches declared
    with ``option(switch=True)`` included). Raises
    ``InputError`` for a field set to ``None`` whose default is not ``None`` (no option says that).
    """
    argv: list[str] = []
    for item in dataclasses.fields(config):  # type: ignore[arg-type]
        value = getattr(config, item.name)
        default = item.default if item.default is not dataclasses.MISSING else None
        if value == default and item.name not in always:
            continue
        name = option_name(item.name)
        if value is None:
            raise InputError(f"{name} cannot be set back to its unset value on a command line.")
        if item.name in flags or item.metadata.get("switch"):
            argv += [name] if value else []
        elif isinstance(value, bool):
            argv += [name, str(value)] if bool_values else [name if value else f"--no-{name[2:]}"]
        elif isinstance(value, tuple | list):
            argv += [name, *(str(part) for part in value)]
        else:
            argv += [name, str(value)]
    return argv


UNSET = object()


def explicit_options(parser: argparse.ArgumentParser, argv: list[str] | None) -> dict[str, Any]:
    """The options ``argv`` gives explicitly (even at their default values), by field name."""
    probe = copy.deepcopy(parser)
    probe.set_defaults(**{action.dest: UNSET for action in parser._actions if action.dest != "help"})
    return {name: value for name, value in vars(probe.parse_args(argv)).items() if value is not UNSET}


def parse_bool(text: str) -> bool:
    """The reference's "True"/"False" option values (also true/false/1/0/yes/no)."""
    value = text.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"{text!r} is not a boolean: use True or False.")


def whole_number(minimum: int) -> Callable[[str], int]:
    """An argparse ``type``: a whole number of at least ``minimum`` (a seed, a count), else a message naming both."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is below {minimum}")
        return value

    return parse


def config_from_args(config: type[Config], args: argparse.Namespace) -> Config:
    """The dataclass ``config`` filled from parsed arguments (``nargs`` lists become the fields' tuples)."""
    values = {item.name: getattr(args, item.name) for item in dataclasses.fields(config)}  # type: ignore[arg-type]
    return config(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})  # type: ignore[call-arg]


def fail(error: InputError) -> int:
    """Print a user error (no traceback) and return exit status 2."""
    print(f"error: {error}", file=sys.stderr)
    return 2


def run_and_report(run: Callable[[Config], dict[str, Any]], config: Config) -> int:
    """Run a script's ``run(config)``; print its summary as one JSON line (exit 0) or the user error (exit 2)."""
    configure_cpu_allocator()
    try:
        summary = run(config)
    except InputError as error:
        return fail(error)
    print(json.dumps(summary, sort_keys=True))
    return 0


def pick_device(name: str) -> torch.device:
    """``auto``: the local CUDA device when there is one, else the CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise InputError(f"Unknown device {name!r}: use auto, cpu or cuda.") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda was asked for but no CUDA GPU is available: use --device cpu.")
    return device


def parse_config(config: type[Config], argv: list[str] | None, description: str | None, **options: Any) -> Config:
    """Parse ``argv`` into the dataclass ``config`` (options as for ``add_config_arguments``)."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, config, **options)
    return config_from_args(config, parser.parse_args(argv))
