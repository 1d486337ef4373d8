"""Scanpaths: what a sequence of fixations reveals, and where to look next.

Glimpse ``k`` of a scanpath reveals the regions of fixations ``0..k`` together (a union
of discs or squares, or several foveae). All glimpses of a scanpath render in one
batched forward pass. The "where to look next" suggestion reveals the most error:
the model's current (foreground-weighted) error on what is still hidden, summed over
the region a fixation would reveal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import torch
from torch import nn

from ..errors import InputError
from ..fixations import as_points
from ..masking import MODES, check_mode
from ..priority import FOVEA_RADIUS as FOVEA_RADIUS
from ..priority import best_pixels, reveal_gain, reveals_square
from ..priority import reveal_radius as priority_radius
from .render import Panels, ViewState, render_batch

SCANPATH_MODES = tuple(name for name, spec in MODES.items() if spec.uses_fixation)  # a scanpath moves the eye


def glimpse_points(fixations: Sequence[tuple[int, int]], height: int, width: int) -> torch.Tensor:
    """Points of every glimpse: ``K`` fixations -> ``(K, K, 2)``; glimpse k repeats its last point."""
    points = as_points([list(f) for f in fixations], 1, height, width)[0]  # (K, 2)
    count = points.shape[0]
    index = torch.minimum(torch.arange(count).view(1, -1), torch.arange(count).view(-1, 1))
    return points[index]


def render_scanpath(
    image: torch.Tensor,
    fixations: Sequence[tuple[int, int]],
    base: ViewState,
    model: nn.Module,
    foreground: torch.Tensor | None = None,
) -> list[Panels]:
    """One ``Panels`` per glimpse of the scanpath (after 1, 2, ... fixations), one forward pass."""
    check_mode(base.mode)
    if base.mode not in SCANPATH_MODES:
        raise InputError(f"A scanpath needs a fixation-based mode ({', '.join(SCANPATH_MODES)}), not {base.mode}.")
    if not fixations:
        raise InputError("Click at least one fixation to start a scanpath.")
    height, width = image.shape[-2:]
    points = glimpse_points(fixations, height, width)
    views = [replace(base, fixation=tuple(int(v) for v in fixations[k]), attention=None) for k in range(len(fixations))]
    return render_batch(image, views, model, foreground, fixations=points)


def reveal_radius(base: ViewState, height: int, width: int) -> int:
    """Radius in px of the region one fixation reveals in this view's mode (``priority.reveal_radius``)."""
    return priority_radius(base.mode, base.ratio, height, width)


def suggest_fixation(panels: Panels, radius: int, square: bool = False) -> tuple[int, int] | None:
    """Where to look next: the pixel whose reveal covers the most (foreground-weighted) hidden error;
    ``None`` when no fixation would reveal any (everything that matters is already seen)."""
    error = panels.weighted_error_map if panels.weighted_error_map is not None else panels.error_map
    points, useful = best_pixels(reveal_gain(error, panels.loss_mask, radius, square)[None])
    if not bool(useful[0]):
        return None
    return int(points[0, 0]), int(points[0, 1])


def suggested_scanpath(
    image: torch.Tensor,
    start: tuple[int, int],
    count: int,
    base: ViewState,
    model: nn.Module,
    foreground: torch.Tensor | None = None,
) -> list[tuple[int, int]]:
    """A greedy scanpath of ``count`` fixations from ``start``: each next one by ``suggest_fixation``."""
    height, width = image.shape[-2:]
    radius = reveal_radius(base, height, width)
    path = [tuple(int(v) for v in start)]
    while len(path) < count:
        last = render_scanpath(image, path, base, model, foreground)[-1]
        point = suggest_fixation(last, radius, reveals_square(base.mode))
        if point is None:  # nothing left to reveal: the path ends early
            break
        path.append(point)
    return path


def random_scanpath(
    start: tuple[int, int], count: int, height: int, width: int, seed: int = 0
) -> list[tuple[int, int]]:
    """``count`` fixations: ``start``, then uniformly random pixels drawn from ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    rest = torch.stack(
        [
            torch.randint(0, width, (count - 1,), generator=generator),
            torch.randint(0, height, (count - 1,), generator=generator),
        ],
        dim=1,
    )
    return [tuple(int(v) for v in start)] + [(int(x), int(y)) for x, y in rest.tolist()]


def error_curve(panels: Sequence[Panels]) -> list[float | None]:
    """The foreground-weighted error after each glimpse (masked MSE where there is no foreground).

    Once a path has revealed all of the foreground, the weighted error over the hidden region is
    0 (there is no hidden foreground left to get wrong), not undefined.
    """
    if not panels or panels[0].foreground is None:
        return [p.metrics["masked_mse"] for p in panels]
    return [
        0.0 if p.metrics["foreground_mse"] is None and float((p.loss_mask * p.foreground).sum()) == 0
        else p.metrics["foreground_mse"]
        for p in panels
    ]
