"""``scripts/device_session.sh``, the prepared GPU session: its command lines stay valid as the CLIs change.

A session lent a GPU has minutes of device time and no second try, so a flag renamed here
must fail here, not there. (The script itself was rehearsed on the CPU with small settings.)
"""

from __future__ import annotations

import importlib
import re
import shlex
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "device_session.sh"


def command_lines() -> list[tuple[str, list[str]]]:
    """Each ``$PY -m MODULE ARGS`` of the script: module and arguments, with the script's default settings."""
    text = SCRIPT.read_text().replace("\\\n", " ")
    defaults = dict(re.findall(r"^(\w+)=\$\{\1:-([^}]*)\}", text, flags=re.MULTILINE))
    found = []
    for line in text.splitlines():
        match = re.search(r"\$PY -m ([\w.]+)(.*)", line)
        if match:
            args = re.sub(r"\$\{?(\w+)\}?", lambda m: defaults.get(m.group(1), "folder"), match.group(2))
            found.append((match.group(1), shlex.split(args)))
    return found


def test_the_script_is_valid_bash_and_runs_each_tool_it_promises():
    assert subprocess.run(["bash", "-n", str(SCRIPT)]).returncode == 0
    assert [module for module, _ in command_lines()] == ["bench.bench_train", "train.pretrain", "train.ship_demo"]


@pytest.mark.parametrize("module, args", command_lines(), ids=lambda value: value if isinstance(value, str) else "")
def test_each_command_line_of_the_script_parses(module, args):
    parser = importlib.import_module(module).build_parser()
    parsed = parser.parse_args(args)  # an unknown or misspelt option exits here (SystemExit)
    if module == "train.ship_demo":
        assert parsed.resume_shipped and parsed.only == ["periphery_0.8"] and parsed.learning_rate == 1e-3
