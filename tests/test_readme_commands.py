"""Every ``python -m train.X ...`` command line the READMEs show is one its CLI accepts: parsed, never run."""

from __future__ import annotations

import contextlib
import importlib
import io
import re
import shlex
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCUMENTS = (REPO / "README.md", REPO / "checkpoints" / "README.md")
COMMAND = re.compile(r"(?:python|torchrun)\b[^`]*?-m\s+train\.(\w+)(.*)")  # the module, then its arguments
SHELL_ENDS = {"|", ";", "&&", "||"}  # a command line stops at the next shell command


def snippets(text: str) -> list[tuple[int, str]]:
    """(line number, text) of every code-block line (backslash continuations joined) and inline code span."""
    found, block, pending = [], False, ""
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            block, pending = not block, ""
        elif block:
            pending += line.rstrip()
            if pending.endswith("\\"):
                pending = pending[:-1] + " "
                continue
            found.append((number, pending))
            pending = ""
        else:
            found += [(number, span) for span in re.findall(r"`([^`]+)`", line)]
    return found


def documented_commands() -> list[tuple[str, str, list[str]]]:
    """(where, module, arguments) of every ``python -m train.X`` line; ``[--flag]`` counts as given, and a line
    that elides its arguments (``...``) is left out."""
    commands = []
    for document in DOCUMENTS:
        for number, snippet in snippets(document.read_text()):
            match = COMMAND.search(snippet)
            if match is None:
                continue
            words = shlex.split(match.group(2), comments=True)
            words = words[: next((i for i, word in enumerate(words) if word in SHELL_ENDS), len(words))]
            if "..." in words:
                continue
            arguments = [re.sub(r"^\[(.*)\]$", r"\1", word) for word in words]
            commands.append((f"{document.relative_to(REPO)}:{number}", match.group(1), arguments))
    return commands


COMMANDS = documented_commands()


def parse(module: ModuleType, arguments: list[str]) -> object:
    """Read a command line as the CLI does, running nothing: its ``build_parser()``."""
    return module.build_parser().parse_args(arguments)


def test_the_readmes_show_commands_of_every_main_cli():
    shown = {module for _, module, _ in COMMANDS}
    assert {"pretrain", "probe", "segment", "evaluate", "grid", "ship_demo", "download_stl10"} <= shown


@pytest.mark.parametrize(("where", "module", "arguments"), COMMANDS, ids=[where for where, _, _ in COMMANDS])
def test_a_documented_command_line_parses(where, module, arguments):
    cli = importlib.import_module(f"train.{module}")
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors):
            parse(cli, arguments)
    except SystemExit as stop:  # argparse's way of refusing a command line
        pytest.fail(f"{where}: python -m train.{module} {shlex.join(arguments)} is refused: {errors.getvalue()} "
                    f"(exit {stop.code})")
