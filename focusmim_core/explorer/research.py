"""What the research views (Checkpoints and runs, Latent space) show, as tables, figures and sentences that both
front-ends draw: the Streamlit pages and the Gradio tabs lay them out, nothing more."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import torch

from ..checkpoints import CheckpointInfo
from ..experiments import paper_conditions
from ..latent_analysis import SEGMENTATION_CUTS
from .catalog import TRAIN_HINT
from .figures import line_chart, segmentation_overlay, tsne_scatter
from .runs import Run

# display labels of the records' fields (results.ConditionSummary, runs.ProbeRow), applied only when drawn
GRID_COLUMNS = {"label": "condition", "seeds": "seeds", "mean": "probe % (mean)", "std": "± std", "paper": "paper %"}
PROBE_COLUMNS = {
    "checkpoint": "checkpoint",
    "accuracy": "ours: accuracy %",
    "spread": "ours: ± std",
    "knn": "ours: kNN %",
    "probe_data": "ours: probe data",
    "paper_setup": "paper: setup",
    "paper_accuracy": "paper: accuracy % (STL-10)",
}
QUALITY_CAPTION = (
    "python -m train.evaluate: 8 gallery photos (never trained on) x 5 fixations, each checkpoint under its "
    "own masking; one point per training session (train.ship_demo --continue)."
)
RUNS_SHOWN = 6  # runs drawn at first (the newest folders come last)
CHANNEL_COLUMNS = 16  # channels per row of the latent's channel grid
DEFAULT_CUT = SEGMENTATION_CUTS[1]  # the cut the t-SNE is coloured by at first
CUT_LABEL = "Colour the t-SNE by"
OTHER_LABEL, NO_OTHER_LABEL = "Side by side with", "(none)"  # a second checkpoint's latent beside the view's
EVERY_CHECKPOINT_LABEL = "Every checkpoint (slower)"  # statistics of every checkpoint, not only the view's
DEFAULT_BATCH = "synthetic"  # the batch source (an id of ``latent_batch.BATCH_SOURCES``) shown at first
CORRELATED_UNITS = 48  # the most variable units whose correlations are drawn


def table(records: Sequence[Any], columns: Mapping[str, str]) -> pd.DataFrame:
    """Dataclass records as a table: the fields in ``columns``, under their display labels."""
    return pd.DataFrame([asdict(record) for record in records], columns=list(columns)).rename(columns=columns)


def folders_text(folders: Sequence[Path]) -> str:
    """Folders as a Markdown list of code spans."""
    return ", ".join(f"`{folder}`" for folder in folders)


def catalog_notes(infos: Sequence[CheckpointInfo], folders: Sequence[Path]) -> tuple[str | None, str | None]:
    """(warning: none to list, info: demos among them) over the readable checkpoints ``infos`` of ``folders``."""
    if not infos:
        where = folders_text(folders)
        return f"No checkpoints in {where}. The other pages use an untrained network. {TRAIN_HINT}", None
    if any(info.metadata.demo for info in infos):
        return None, f"Checkpoints marked **demo** are small CPU-trained demos. {TRAIN_HINT}"
    return None, None


def searched_caption(folders: Sequence[Path]) -> str:
    """Where the checkpoints were looked for."""
    return f"Searched: {folders_text(folders)} (add folders with FOCUSMIM_CHECKPOINTS)."


def broken_note(broken: Sequence[CheckpointInfo]) -> str:
    """The warning above the table of files that could not be read."""
    return f"{len(broken)} file(s) in the checkpoint folders could not be read; they are never chosen or compared:"


def broken_table(broken: Sequence[CheckpointInfo]) -> pd.DataFrame:
    """Each unreadable file and its problem."""
    return pd.DataFrame([{"file": info.path.name, "problem": info.error} for info in broken])


def quality_chart(curves: Mapping[str, tuple[list[int], list[float | None]]]) -> go.Figure:
    """Held-out PSNR over training (``runs.quality_curves``), one line per checkpoint."""
    return line_chart(curves, "hidden-region PSNR on the gallery after each session", "images seen", "PSNR (dB)")


def no_runs_note(folders: Sequence[Path]) -> str:
    """What to do when no run folder holds a log."""
    return (f"No training runs found in {folders_text(folders)} (each run folder has a metrics.jsonl; add folders "
            "with FOCUSMIM_RUNS).")  # fmt: skip


def run_chart(runs: Sequence[Run], key: str) -> tuple[go.Figure, str | None, str | None]:
    """One metric (``key``: one of ``runs.CURVE_KEYS``) per epoch of ``runs``, and two notes (None: nothing to say):
    the runs that did not log it, and the log lines skipped as unreadable."""
    curves = {run.name: run.series(key) for run in runs}
    empty = [name for name, (epochs, _) in curves.items() if not epochs]
    figure = line_chart({n: c for n, c in curves.items() if c[0]}, f"{key} per epoch", "epoch", key,
                        log_y=key == "loss")  # fmt: skip
    skipped = [f"{run.name}: {run.skipped}, the first at {run.problems[0]}" for run in runs if run.problems]
    return (
        figure,
        f"No {key} logged in: {', '.join(empty)}." if empty else None,
        f"Unreadable log lines were skipped: {'; '.join(skipped)}." if skipped else None,
    )


def grid_caption(settings: Mapping[str, Any], finished: int, total: int) -> str:
    """What a grid's table and chart show, and how far it has come."""
    return (f"`python -m train.grid {settings.get('grid')}`: {finished} of {total} cells finished; probe accuracy "
            "per condition, mean ± std over pretraining seeds, next to the paper's Fig. 4.")  # fmt: skip


def skipped_lines_note(problems: Sequence[str], file: str) -> str:
    """How many lines of ``file`` were skipped, and the first one's problem."""
    return f"Unreadable lines of {file} were skipped: {len(problems)}, the first at {problems[0]}."


def no_cells_note(folder: Path) -> str:
    """A grid none of whose cells has finished."""
    return f"No cell of {folder} has finished yet."


NO_PROBE_NOTE = "No checkpoint has a probe result yet: run `python -m train.probe` to measure one."


def baseline_caption(baseline: Mapping[str, Any]) -> str:
    """The random-init encoder's probe accuracy, the floor a checkpoint must beat."""
    return (
        f"Baseline for the shipped demo checkpoints: a random-init encoder reaches "
        f"{100 * baseline['accuracy_mean']:.1f} % (k-NN {100 * (baseline.get('knn_accuracy') or 0):.1f} %) on the "
        "same procedural probe set. Random features are a strong baseline; a checkpoint helps only above it."
    )


PAPER_HEADING = "**The paper's numbers** (STL-10 linear probe, %, read off Fig. 4; not measured here):"


def paper_table() -> pd.DataFrame:
    """The paper's Fig. 4 accuracies, one row per setup."""
    return pd.DataFrame(
        [{"paper's setup": c.paper.label, "accuracy % (paper)": c.paper.accuracy} for c in paper_conditions()]
    )


def segmentation_caption(rows: int, columns: int, select: str = "click or box-select a point") -> str:
    """How the cells are clustered and placed (``select``: how a point is picked in this front-end)."""
    cuts = ", ".join(str(k) for k in SEGMENTATION_CUTS[:-1]) + f" and {SEGMENTATION_CUTS[-1]}"
    return (
        f"Ward linkage on the L2-normalised {rows} x {columns} cell vectors (scipy), one tree cut at {cuts} clusters: "
        "when a cluster splits, its larger part keeps the parent's colour. The t-SNE (scikit-learn, perplexity 30, "
        f"cosine) places the same cells; {select} to outline its cell."
    )


def segmentation_heading(rows: int, columns: int) -> str:
    """The heading of the segmentation section."""
    return f"Hierarchical segmentation of the {rows * columns} latent cells"


def cut_label(cut: int) -> str:
    """How a cut into ``cut`` clusters is named."""
    return f"{cut} clusters"


def cut_overlays(
    image: torch.Tensor, labels: Sequence[torch.Tensor], cell: int | None, scale: int = 2
) -> list[tuple[np.ndarray, str]]:
    """Each cut's clusters ``labels`` (``(12, 12)`` each, ``latent_segmentation``) over ``image`` ``(3, H, W)``, with
    ``cell`` outlined: uint8 ``(H * scale, W * scale, 3)`` and a caption."""
    return [(segmentation_overlay(image, cut_labels, scale=scale, cell=cell), cut_label(k))
            for k, cut_labels in zip(SEGMENTATION_CUTS, labels, strict=True)]  # fmt: skip


def cut_colours(labels: Sequence[torch.Tensor], cut: int) -> np.ndarray:
    """The cluster of each cell ``(144,)`` at the cut into ``cut`` clusters (one of ``SEGMENTATION_CUTS``)."""
    return labels[SEGMENTATION_CUTS.index(cut)].flatten().numpy()


def tsne_figure(embedding: np.ndarray, labels: Sequence[torch.Tensor], cut: int, cell: int | None) -> go.Figure:
    """The t-SNE ``(144, 2)`` of the cells coloured by the ``cut``-cluster cut, ``cell`` ringed."""
    return tsne_scatter(embedding, cut_colours(labels, cut), f"t-SNE of the cells, coloured by the {cut}-cluster cut",
                        cell)  # fmt: skip


STATISTICS_CAPTION = (
    "whole images (no mask). Decorrelation: sum of squared off-diagonal unit correlations / 18,432 (paper 3.6); "
    "sparsity as in the reference code."
)


def statistics_caption(images: int) -> str:
    """What the statistics table measured over how many images."""
    return f"{images} {STATISTICS_CAPTION}"
