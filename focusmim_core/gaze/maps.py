"""Priority maps of a masked-image model for the next fixation, given the fixations so far.

For fixation k of a scanpath the model has seen fixations 1..k-1 (each reveals its region under the masking
mode and ratio; before the first, nothing). Two maps, for every pixel, of what a fixation there would reveal
(``priority.reveal_gain``, the explorer's "where to look next"):

- ``oracle_error``: the model's squared error on the still hidden pixels. It reads the hidden pixels, which
  no observer has seen before looking: an oracle.
- ``disagreement``: how much the model's reconstruction of the still hidden pixels changed when the last
  glimpse was added (fixations 1..k-1 against 1..k-2). It needs no hidden pixel: where the model's guesses
  are still moving is where it is unsure. Zero before the second fixation (a uniform map).

All views of a photo (every fixation of every observer) are reconstructed in batched forward passes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import InputError
from ..losses import error_map
from ..masking import MODES, fill_values, mask_images, visible_pixels
from ..model import reconstruct
from ..priority import best_pixels, reveal_gain, reveal_radius, reveals_square

ORACLE = "oracle_error"
DISAGREEMENT = "disagreement"
MAP_NAMES = (ORACLE, DISAGREEMENT)
GAZE_MODES = tuple(name for name, spec in MODES.items() if spec.window)  # a fixation reveals a region
BATCH = 64  # views per forward pass

History = tuple[tuple[int, int], ...]  # whole frame pixels (x, y) of the fixations so far


@dataclass(frozen=True)
class Masking:
    """What a fixation reveals: the masking mode (one of ``GAZE_MODES``), its ratio and the fill."""

    mode: str = "periphery"
    ratio: float = 0.8
    fill: str = "mean"

    def __post_init__(self) -> None:
        if self.mode not in GAZE_MODES:
            raise InputError(f"Fixations reveal regions in {', '.join(GAZE_MODES)}, not in {self.mode!r}.")
        if not 0 <= self.ratio < 1:
            raise InputError(f"The masking ratio must lie in 0..1 (1 excluded); got {self.ratio}.")

    def gain(self, values: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        """``priority.reveal_gain`` of maps ``(N, H, W)`` over hidden masks ``(N, H, W)`` in this masking."""
        radius = reveal_radius(self.mode, self.ratio, *values.shape[-2:])
        return reveal_gain(values, hidden, radius, reveals_square(self.mode))


def frame_pixel(x: float, y: float, size: int) -> tuple[int, int]:
    """The frame pixel holding a continuous point (as pysaliency's ``x_int``, ``y_int``)."""
    return min(int(x), size - 1), min(int(y), size - 1)


def reveal(images: torch.Tensor, histories: Sequence[History], masking: Masking) -> tuple[torch.Tensor, torch.Tensor]:
    """Masked inputs ``(N, 3, H, W)`` and hidden masks ``(N, 1, H, W)`` of ``images[i]`` after ``histories[i]``
    (an empty history hides everything)."""
    longest = max(1, *(len(h) for h in histories))
    points = torch.tensor([[*h, *[h[0] if h else (0, 0)] * (longest - len(h))] for h in histories], dtype=torch.float32)
    inputs, hidden = mask_images(images, masking.mode, masking.ratio, points, fill=masking.fill)
    empty = torch.tensor([not h for h in histories]).view(-1, 1, 1, 1)
    if bool(empty.any()):
        hidden = torch.where(empty, torch.ones_like(hidden), hidden)
        inputs = torch.where(empty, fill_values(images, masking.fill).expand_as(images), inputs)
    return inputs, hidden


@torch.no_grad()
def reconstruct_views(
    model: nn.Module, images: torch.Tensor, histories: Sequence[History], masking: Masking
) -> tuple[torch.Tensor, torch.Tensor]:
    """Reconstructions ``(N, 3, H, W)`` and hidden masks ``(N, H, W)`` of ``images`` (one ``(3, H, W)`` for every
    view, or ``(N, 3, H, W)``) after each history, ``BATCH`` views per forward pass."""
    images = images.expand(len(histories), *images.shape[-3:])
    outputs, masks = [], []
    for start in range(0, len(histories), BATCH):
        chunk = histories[start : start + BATCH]
        inputs, hidden = reveal(images[start : start + BATCH], chunk, masking)
        outputs.append(reconstruct(model, inputs, visible_pixels(hidden, masking.mode))[0].float().cpu())
        masks.append(hidden[:, 0])
    return torch.cat(outputs), torch.cat(masks)


def map_values(
    name: str, image: torch.Tensor, recon: torch.Tensor, hidden: torch.Tensor, before: torch.Tensor | None
) -> torch.Tensor:
    """Per-pixel values ``(N, H, W)`` a map sums over what a fixation reveals: the squared error against
    ``image`` (``(3, H, W)`` or ``(N, 3, H, W)``: the oracle), or the squared change from the reconstructions
    ``before`` the last glimpse (``None``: no glimpse before, no change)."""
    if name == ORACLE:
        return error_map(recon, image.expand_as(recon))[:, 0]
    if name == DISAGREEMENT:
        return torch.zeros_like(hidden) if before is None else ((recon - before) ** 2).mean(dim=1)
    raise InputError(f"Unknown map {name!r}: use one of {', '.join(MAP_NAMES)}.")


def photo_maps(
    model: nn.Module, image: torch.Tensor, histories: Sequence[History], masking: Masking, names: Sequence[str]
) -> dict[str, dict[History, torch.Tensor]]:
    """Every map in ``names`` for every history of one photo: name -> history -> ``(H, W)`` map. Each
    distinct history (and the one before it) is reconstructed once, all in batched passes."""
    wanted = list(dict.fromkeys(histories))
    views = list(dict.fromkeys([*wanted, *(h[:-1] for h in wanted if h)]))
    recon, hidden = reconstruct_views(model, image, views, masking)
    row = {h: i for i, h in enumerate(views)}
    index = torch.tensor([row[h] for h in wanted])
    before = recon[torch.tensor([row[h[:-1]] if h else row[h] for h in wanted])]  # no glimpse before: no change
    maps: dict[str, dict[History, torch.Tensor]] = {}
    for name in names:
        values = map_values(name, image, recon[index], hidden[index], before)
        gains = masking.gain(values, hidden[index])
        maps[name] = dict(zip(wanted, gains, strict=True))
    return maps


@torch.no_grad()
def greedy_paths(
    model: nn.Module, images: torch.Tensor, starts: Sequence[tuple[int, int]], lengths: Sequence[int],
    masking: Masking, name: str,
) -> list[list[tuple[int, int]]]:  # fmt: skip
    """The model's own scanpaths on ``images`` ``(P, 3, H, W)`` (path i on image i), advanced together in batched
    passes: from ``starts[i]``, every next fixation where map ``name`` is highest, ``lengths[i]`` fixations
    (fewer when nothing is left worth revealing)."""
    paths = [[tuple(s)] for s in starts]
    nothing = [()] * len(paths)  # the views before the first fixation: only the disagreement reads them
    before = reconstruct_views(model, images, nothing, masking)[0] if name == DISAGREEMENT else torch.zeros_like(images)
    running = [i for i, n in enumerate(lengths) if n > 1]
    while running:
        index = torch.tensor(running)
        recon, hidden = reconstruct_views(model, images[index], [tuple(paths[i]) for i in running], masking)
        values = map_values(name, images[index], recon, hidden, before[index])
        points, useful = best_pixels(masking.gain(values, hidden))
        before[index] = recon
        for row, i in enumerate(running):
            if bool(useful[row]):
                paths[i].append((int(points[row, 0]), int(points[row, 1])))
        running = [i for row, i in enumerate(running) if bool(useful[row]) and len(paths[i]) < lengths[i]]
    return paths
