"""Comparisons across modes: the metrics table of a mode row and error-vs-ratio curves in one batched pass."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import torch
from torch import nn

from ..masking import MODES
from .render import Panels, ViewState, render_batch
from .scanpath import error_curve, random_scanpath, render_scanpath, suggested_scanpath

SWEEP_RATIOS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def mode_table(panels: Sequence[Panels], checkpoints: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """One row per rendered mode: its ratio, checkpoint and metrics (for a table)."""
    rows = []
    for view_panels in panels:
        mode = view_panels.settings.mode
        metrics = view_panels.metrics
        rows.append(
            {
                "mode": MODES[mode].label,
                "ratio": view_panels.settings.ratio if MODES[mode].uses_ratio else None,
                "checkpoint": (checkpoints or {}).get(mode, ""),
                "masked MSE": metrics["masked_mse"],
                "foreground-weighted MSE": metrics["foreground_mse"],
                "PSNR hidden (dB)": metrics["psnr_hidden"],
                "hidden fraction": metrics["hidden_fraction"],
            }
        )
    return rows


def sweep_views(base: ViewState, modes: Sequence[str], ratios: Sequence[float]) -> list[ViewState]:
    """Every ratio for the modes that use one, a single view for those that do not."""
    views = []
    for mode in modes:
        mode_ratios = ratios if MODES[mode].uses_ratio else [MODES[mode].default_ratio]
        views += [replace(base, mode=mode, ratio=float(r)) for r in mode_ratios]
    return views


def ratio_curves(
    image: torch.Tensor,
    base: ViewState,
    models: Mapping[str, nn.Module],
    foreground: torch.Tensor | None = None,
    metric: str = "masked_mse",
    ratios: Sequence[float] = SWEEP_RATIOS,
) -> dict[str, tuple[list[float], list[float | None]]]:
    """Error vs masking ratio for every mode in ``models`` (label -> (ratios, values)), one forward per network.

    Modes without a ratio (autoencoder, foveal filter) give a flat line at their single value.
    """
    modes = list(models)
    panels = render_batch(image, sweep_views(base, modes, ratios), models, foreground)
    curves: dict[str, tuple[list[float], list[float | None]]] = {}
    for mode in modes:
        values = [p.metrics[metric] for p in panels if p.settings.mode == mode]
        if not MODES[mode].uses_ratio:
            values = values * len(ratios)
        curves[MODES[mode].label] = (list(ratios), values)
    return curves


def scanpath_curves(
    image: torch.Tensor,
    path: Sequence[tuple[int, int]],
    base: ViewState,
    model: nn.Module,
    foreground: torch.Tensor | None = None,
    seed: int = 0,
) -> dict[str, list[float | None]]:
    """Error after each fixation for the user's path, the greedy suggested one and a random one (same start, length;
    a suggested path that runs out of anything to reveal keeps its last value)."""
    count = len(path)
    height, width = image.shape[-2:]
    paths = {
        "your scanpath": list(path),
        "suggested (model's own error)": suggested_scanpath(image, path[0], count, base, model, foreground),
        "random": random_scanpath(path[0], count, height, width, seed),
    }
    curves = {name: error_curve(render_scanpath(image, p, base, model, foreground)) for name, p in paths.items()}
    # a suggested path ends early when nothing is left to reveal: its error stays where it is
    return {name: curve + curve[-1:] * (count - len(curve)) for name, curve in curves.items()}
