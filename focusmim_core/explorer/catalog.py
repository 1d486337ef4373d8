"""The checkpoints the explorer offers: shipped ones plus folders from ``$FOCUSMIM_CHECKPOINTS``.

``choose`` turns the view's checkpoint choice (``auto`` or a name) into a checkpoint for a
masking mode; with no checkpoint at all the app falls back to an untrained network that
is labelled as such.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..checkpoints import SHIPPED_DIR, CheckpointInfo, default_checkpoint, list_checkpoints, load_checkpoint
from ..errors import CheckpointError, echo, markdown_text
from ..evaluation import stored_report
from ..model import Autoencoder, inference_model
from .viewstate import ViewState

CHECKPOINTS_ENV = "FOCUSMIM_CHECKPOINTS"
AUTO = "auto"
UNTRAINED_LABEL = "untrained network (no checkpoint found): reconstructions are meaningless"
TRAIN_HINT = (
    "Train real ones on STL-10 with `python -m train.pretrain --dataset stl10 ...` (see checkpoints/README.md) "
    "into checkpoints/ or a folder named by $FOCUSMIM_CHECKPOINTS."
)


def checkpoint_folders() -> list[Path]:
    """The shipped ``checkpoints/`` folder, then every folder in ``$FOCUSMIM_CHECKPOINTS`` (os.pathsep-separated)."""
    extra = [Path(p).expanduser() for p in os.environ.get(CHECKPOINTS_ENV, "").split(os.pathsep) if p.strip()]
    return [SHIPPED_DIR, *extra]


def available_checkpoints(folders: list[Path] | None = None) -> list[CheckpointInfo]:
    """Every checkpoint in the folders (default ``checkpoint_folders()``), with metadata."""
    return list_checkpoints(*(folders or checkpoint_folders()))


@dataclass(frozen=True)
class Choice:
    """The checkpoint picked for a mode (``None``: none exists), a problem to report (``note``: the one asked for
    is not there) and ``substitute``: that another mode's checkpoint stands in, since none was trained for it."""

    info: CheckpointInfo | None
    note: str | None = None
    substitute: str | None = None


def choose(selection: str, mode: str, fill: str, checkpoints: list[CheckpointInfo]) -> Choice:
    """``auto`` -> ``default_checkpoint(mode, fill)`` (else any readable checkpoint); a name -> that checkpoint.

    Files whose weights or metadata could not be read are never chosen, not even by name: the note says why.
    """
    note = substitute = None
    if selection != AUTO:
        named = next((info for info in checkpoints if info.name == selection), None)
        if named is not None and named.error is None:
            return Choice(named)
        problem = "was not found" if named is None else f"cannot be used ({markdown_text(named.error)})"
        note = f"Checkpoint {echo(selection)} {problem}; using the default for {mode}."
    info = default_checkpoint(mode, fill, checkpoints)
    if info is None:
        info = default_checkpoint("none", fill, checkpoints) or next((c for c in checkpoints if c.described), None)
        if info is not None:
            shown = f"{markdown_text(info.name)} ({markdown_text(info.metadata.title())})"
            substitute = f"No checkpoint was trained for {mode}; showing {shown}."
    return Choice(info, note, substitute)


def untrained_model(seed: int = 0) -> Autoencoder:
    """A seeded, untrained autoencoder in eval mode (when no checkpoint exists)."""
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        return Autoencoder().eval()
    finally:
        torch.random.set_rng_state(generator_state)


@functools.lru_cache(maxsize=16)
def load_network(path: str, modified: float) -> nn.Module:
    """A checkpoint's network ready for inference, loaded once per file version (``modified``: its mtime)."""
    return inference_model(load_checkpoint(path)[0])


@functools.lru_cache(maxsize=1)
def untrained_network() -> nn.Module:
    """The seeded untrained network shown when no checkpoint exists."""
    return inference_model(untrained_model())


@dataclass(frozen=True)
class Network:
    """The network a view uses: the module, its checkpoint (None: the untrained fallback), ``notes`` (problems:
    a checkpoint not found or unreadable) and ``substitutions`` (not problems: another mode's checkpoint stands in)."""

    model: nn.Module
    info: CheckpointInfo | None
    notes: list[str]
    substitutions: list[str]


def network_for(view: ViewState, checkpoints: list[CheckpointInfo] | None = None) -> Network:
    """The network a view uses (its checkpoint, or the default for its mode and fill).

    ``checkpoints``: the ones to choose from (default: every configured folder, scanned now). A
    checkpoint that does not load gives a message and the untrained fallback.
    """
    listed = available_checkpoints() if checkpoints is None else checkpoints
    choice = choose(view.checkpoint or AUTO, view.mode, view.fill, listed)
    notes, substitutions = [choice.note] if choice.note else [], [choice.substitute] if choice.substitute else []
    if choice.info is None:
        notes.append(f"No checkpoint found: showing an {UNTRAINED_LABEL}. {TRAIN_HINT}")
        return Network(untrained_network(), None, notes, substitutions)
    path = choice.info.path
    try:
        return Network(load_network(str(path), path.stat().st_mtime), choice.info, notes, substitutions)
    except (CheckpointError, OSError) as error:
        message = error if isinstance(error, CheckpointError) else f"{path.name} cannot be read ({error})."
        return Network(untrained_network(), None, [*notes, f"{message} Showing an {UNTRAINED_LABEL}."], [])


def describe(info: CheckpointInfo | None) -> dict[str, Any]:
    """The metadata a user wants to see, as a flat dict of plain values (for a table; ``details_markdown``
    escapes them for Markdown)."""
    if info is None:
        return {"checkpoint": "none", "what": UNTRAINED_LABEL}
    meta = info.metadata
    probe = meta.metrics.get("probe") if isinstance(meta.metrics, dict) else None
    probe = probe if isinstance(probe, dict) else {}  # listed files follow the schema; a hand-made info may not
    report = stored_report(meta.metrics)
    return {
        "checkpoint": info.name,
        "what": meta.title(),
        "mode": meta.mode,
        "ratio": meta.ratio,
        "fill": meta.fill,
        "fixations in training": meta.fixation,
        "data": meta.data,
        "epochs": meta.epochs,
        "learning rate": meta.learning_rate,
        "demo": meta.demo,
        "probe accuracy": probe.get("accuracy_mean"),
        "images seen": meta.extra.get("images_seen") if isinstance(meta.extra, dict) else None,
        "held-out PSNR, hidden (dB)": report.psnr_hidden if report else None,
        "gain over its input (dB)": report.gain if report else None,
        "harmonic inpainting, hidden (dB)": report.psnr_inpainted_hidden if report else None,
        "held-out PSNR, whole (dB)": report.psnr_whole if report else None,
        "date": meta.date,
        "code version": meta.code_version,
        "file": str(info.path),
    }


def details_markdown(details: dict[str, Any]) -> str:
    """A flat dict (e.g. from ``describe``) as a two-column Markdown table, every value shown as the text it is
    (``markdown_text``: metadata can neither link nor load an image); cheap to draw on every rerun."""

    def cell(value: Any) -> str:
        return "–" if value is None else markdown_text(value)

    rows = [f"| {key} | {cell(value)} |" for key, value in details.items()]
    return "\n".join(["| field | value |", "|---|---|", *rows])
