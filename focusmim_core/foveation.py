"""Perry-Geisler foveal filter (Perry & Geisler 2002), as adapted by the FocusMIM reference.

A Gaussian pyramid of the image is blended pixel by pixel according to the
eccentricity (distance to the nearest fixation, in degrees of visual angle): full
resolution at the fixation, ever coarser levels towards the periphery. Batched over
images with per-sample fixations; several points per image give several foveae
(covert attention, the fixations of a scanpath so far).

Constants and the blending rule are those of the reference code; see DESIGN section 2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import torch

from .filters import apply_separable, blur_matrix, cached_on_device, resize_matrix
from .fixations import PointsLike, as_points, squared_distance

PYRAMID_LEVELS = 6
PYRAMID_KERNEL_SIZE = 5
PYRAMID_SIGMA = 0.248
PIXELS_PER_DEGREE = 3.5
HALF_RESOLUTION_ECCENTRICITY = 2.5  # alpha, degrees
CPU_CHUNK = 16  # images per step on CPU: keeps the pyramid in cache (measured fastest on 2 cores)


@dataclass(frozen=True)
class FovealFilter:
    """Constants of the foveal filter; the defaults are the paper's."""

    levels: int = PYRAMID_LEVELS
    sigma: float = PYRAMID_SIGMA
    kernel_size: int = PYRAMID_KERNEL_SIZE
    pixels_per_degree: float = PIXELS_PER_DEGREE
    alpha: float = HALF_RESOLUTION_ECCENTRICITY

    def normalized_bandwidths(self) -> list[float]:
        """Bandwidths ``omega_i`` (where ``T_i = 0.5``) scaled to [0, 1]; last one is 0."""
        omegas = [
            self.sigma * math.sqrt(math.log(2)) / (2 ** (i - 3) * math.sqrt(0.5)) for i in range(1, self.levels)
        ] + [0.0]
        top, bottom = max(omegas), min(omegas)
        return [float(torch.tensor((w - bottom) / (top - bottom), dtype=torch.float32)) for w in omegas]


PAPER_FILTER = FovealFilter()


def resolution_map(points: torch.Tensor, height: int, width: int, spec: FovealFilter = PAPER_FILTER) -> torch.Tensor:
    """Relative resolution ``R = alpha / (theta + alpha)`` in (0, 1]: ``(N, K, 2)`` -> ``(N, 1, H, W)``.

    ``theta`` is the distance to the nearest point in degrees (``pixels_per_degree`` px each).
    """
    theta = torch.sqrt(squared_distance(points, height, width)) / spec.pixels_per_degree
    return spec.alpha / (theta + spec.alpha)


def layer_numbers(resolution: torch.Tensor, spec: FovealFilter = PAPER_FILTER) -> torch.Tensor:
    """Blend layer of each pixel, 1 (full resolution) to ``levels - 1``: int ``(N, 1, H, W)``.

    Layer ``i`` holds the pixels with ``omega_i <= R <= omega_(i-1)`` (normalised
    bandwidths); a pixel on a boundary belongs to the coarser layer, as in the reference.
    """
    bands = spec.normalized_bandwidths()
    layers = torch.zeros_like(resolution, dtype=torch.int64)
    for i in range(1, spec.levels):
        layers = torch.where((resolution >= bands[i]) & (resolution <= bands[i - 1]), i, layers)
    return layers


def blend_weights(resolution: torch.Tensor, spec: FovealFilter = PAPER_FILTER) -> list[torch.Tensor]:
    """Weight of each pyramid level at each pixel: ``levels - 1`` maps ``(N, 1, H, W)``.

    A pixel of layer 1 takes level 0 (the image) alone; a pixel of layer ``L >= 2`` takes
    ``B`` of level ``L - 2`` and ``1 - B`` of level ``L - 1`` with
    ``B = (0.5 - T_L) / (T_(L-1) - T_L + 1e-5)`` and transfer functions
    ``T_i = exp(-0.5 (2^(i-3) R / sigma)^2)``, ``T_levels = 0``. The coarsest level never
    receives weight, so only ``levels - 1`` maps are returned.
    """
    transfer = [torch.exp(-(((2 ** (i - 3)) * resolution / spec.sigma) ** 2) * 0.5) for i in range(1, spec.levels)]
    transfer.append(torch.zeros_like(resolution))
    blend = [(0.5 - transfer[i]) / (transfer[i - 1] - transfer[i] + 1e-5) for i in range(1, spec.levels)]
    layers = layer_numbers(resolution, spec)
    zero = torch.zeros_like(resolution)
    weights = []
    for level in range(spec.levels - 1):
        own = (
            torch.where(layers == 1, 1.0, zero)
            if level == 0
            else torch.where(layers == level + 1, 1 - blend[level], zero)
        )
        coarser_layer = level + 2  # pixels of this layer take B of this level
        weights.append(
            torch.where(layers == coarser_layer, blend[coarser_layer - 1], own) if coarser_layer < spec.levels else own
        )
    return weights


@lru_cache(maxsize=32)
def _pyramid_operators(length: int, levels: int, kernel_size: int, sigma: float, antialias: bool):
    """Per level: the 1-D matrix taking level i-1 to level i, and the one taking level i up to full size."""
    down, up = [], []
    size = length
    for _ in range(1, levels):
        new_size = int(size / 2)
        down.append(resize_matrix(size, new_size, antialias) @ blur_matrix(size, kernel_size, sigma))
        size = new_size
    for i in range(1, levels):
        size = length
        for _ in range(i):
            size = int(size / 2)
        matrix = torch.eye(size)
        for j in range(i):
            target = size * 2 if j < i - 1 else length
            matrix = resize_matrix(size, target, antialias) @ matrix
            size = target
        up.append(matrix)
    return down, up


def gaussian_pyramid(
    images: torch.Tensor, levels: int = PYRAMID_LEVELS, antialias: bool = False, spec: FovealFilter = PAPER_FILTER
) -> list[torch.Tensor]:
    """The filter's pyramid, every level resized back to full size: ``levels`` x ``(N, C, H, W)``.

    Level i is level i-1 blurred (5 x 5 Gaussian, sigma 0.248, reflect border) and halved;
    each level is brought back up by repeated doubling, the last step to full size. All
    resizes are bilinear; ``antialias=False`` is what the paper ran (torchvision 0.14).
    """
    height, width = images.shape[-2:]
    rows_down, rows_up = _pyramid_operators(height, levels, spec.kernel_size, spec.sigma, antialias)
    cols_down, cols_up = _pyramid_operators(width, levels, spec.kernel_size, spec.sigma, antialias)
    key = (height, width, levels, spec.kernel_size, spec.sigma, antialias)

    def on_device(name: str, i: int, matrix: torch.Tensor) -> torch.Tensor:
        return cached_on_device(matrix, (*key, name, i), images.device, images.dtype)

    out, current = [images], images
    for i in range(levels - 1):
        current = apply_separable(current, on_device("rd", i, rows_down[i]), on_device("cd", i, cols_down[i]))
        out.append(apply_separable(current, on_device("ru", i, rows_up[i]), on_device("cu", i, cols_up[i])))
    return out


@lru_cache(maxsize=16)
def _weight_table_cpu(max_squared_distance: int, spec: FovealFilter) -> torch.Tensor:
    squared = torch.arange(max_squared_distance + 1, dtype=torch.float32).view(1, 1, 1, -1)
    theta = torch.sqrt(squared) / spec.pixels_per_degree
    resolution = spec.alpha / (theta + spec.alpha)
    return torch.cat(blend_weights(resolution, spec), dim=1).view(spec.levels - 1, -1)


def weight_maps(
    points: torch.Tensor, height: int, width: int, spec: FovealFilter = PAPER_FILTER, levels: int | None = None
) -> list[torch.Tensor]:
    """Blend weights of pyramid levels 0, 1, ... for whole-pixel points: a list of ``(N, 1, H, W)``.

    The weights depend on the squared distance to the nearest point alone, a whole
    number of pixels, so they are read from a table computed once per image size:
    the same numbers as ``blend_weights(resolution_map(...))`` at a fraction of the
    cost. ``levels`` limits the list to the finest levels (default: ``spec.levels - 1``).
    """
    index = squared_distance(points, height, width).view(-1).int()
    largest = (height - 1) ** 2 + (width - 1) ** 2
    table = cached_on_device(_weight_table_cpu(largest, spec), ("fovea", largest, spec), points.device, torch.float32)
    shape = (points.shape[0], 1, height, width)
    return [torch.index_select(row, 0, index).view(shape) for row in table[:levels]]


@lru_cache(maxsize=16)
def _first_weighted_distance(max_squared_distance: int, spec: FovealFilter) -> tuple[int, ...]:
    table = _weight_table_cpu(max_squared_distance, spec)
    return tuple(int(torch.nonzero(row)[0]) if bool(row.any()) else max_squared_distance + 1 for row in table)


def levels_in_use(points: torch.Tensor, height: int, width: int, spec: FovealFilter = PAPER_FILTER) -> int:
    """How many pyramid levels (from level 0) carry weight anywhere in these images.

    Coarse levels serve only pixels far from every fixation (level 4 only beyond 131 px),
    so most batches need fewer than ``levels - 1``; an upper bound from the first point.
    """
    corners_x = torch.tensor([0.0, width - 1.0], device=points.device)
    corners_y = torch.tensor([0.0, height - 1.0], device=points.device)
    dx2 = (points[:, 0, 0:1] - corners_x).pow(2).amax(1)
    dy2 = (points[:, 0, 1:2] - corners_y).pow(2).amax(1)
    farthest = int((dx2 + dy2).max())
    starts = _first_weighted_distance((height - 1) ** 2 + (width - 1) ** 2, spec)
    return max(1, sum(1 for first in starts if first <= farthest))


def foveate(
    images: torch.Tensor,
    fixations: PointsLike = None,
    antialias: bool = False,
    spec: FovealFilter = PAPER_FILTER,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Foveate a batch around per-sample fixations.

    Args:
        images: ``(N, C, H, W)`` float in [0, 1].
        fixations: ``(x, y)``, ``(N, 2)`` or ``(N, K, 2)`` pixel positions (K foveae per
            image); ``None`` is the centre ``(W // 2, H // 2)``.
        antialias: antialiased pyramid resizes (today's torchvision default) instead of
            the paper's plain bilinear ones.

    Returns:
        ``foveated`` ``(N, C, H, W)`` clamped to [0, 1], and ``loss_mask`` ``(N, 1, H, W)``:
        0 where the full-resolution image has full weight (the fovea), 1 elsewhere.
    """
    n, _, height, width = images.shape
    points = as_points(fixations, n, height, width, images.device)
    foveated = torch.empty_like(images)
    full_weight = torch.empty((n, 1, height, width), dtype=torch.bool, device=images.device)
    chunk = n if images.device.type != "cpu" else CPU_CHUNK
    shared = bool((points == points[:1]).all())  # one fixation for all: one set of weights
    for start in range(0, n, chunk):
        part = slice(start, start + chunk)
        chunk_points = points[:1] if shared else points[part]
        levels = levels_in_use(chunk_points, height, width, spec)
        weights = [w.to(images.dtype) for w in weight_maps(chunk_points, height, width, spec, levels)]
        pyramid = gaussian_pyramid(images[part], len(weights), antialias, spec)
        out = foveated[part]
        torch.mul(pyramid[0], weights[0], out=out)
        for weight, level in zip(weights[1:], pyramid[1:], strict=True):
            out.addcmul_(weight, level)  # the reference's order of summation: the same sums
        out.clamp_(0, 1)
        full_weight[part] = weights[0] == 1  # broadcasts a shared map
    return foveated, (~full_weight).to(images.dtype)
