"""Where to look next: what a fixation at each pixel would reveal, for any per-pixel map of the hidden region.

The explorer's "where to look next" suggestion and the scanpath scoring of ``focusmim_core.gaze`` share
these: a map (the model's error, or a map that needs no hidden pixels) counts only where the image is
still hidden, and is summed over the region one fixation reveals in the masking mode.
"""

from __future__ import annotations

import torch

from .foveation import HALF_RESOLUTION_ECCENTRICITY, PIXELS_PER_DEGREE
from .masking import MODES, periphery_radius, square_side

FFT_ROUNDING = 1e-9  # of a map's total: smaller gains are the FFT's rounding of an exact 0
FOVEA_RADIUS = int(HALF_RESOLUTION_ECCENTRICITY * PIXELS_PER_DEGREE)  # 8 px: the full-resolution disc


def reveal_radius(mode: str, ratio: float, height: int, width: int) -> int:
    """Radius in px of the region one fixation reveals in ``mode`` at ``ratio``."""
    window = MODES[mode].window
    if window == "disc":
        return int(periphery_radius(ratio, height, width))
    if window == "square":
        return int(square_side(ratio, height, width)) // 2
    return FOVEA_RADIUS


def reveals_square(mode: str) -> bool:
    """Whether a fixation in ``mode`` reveals a square (else a disc) around it."""
    return MODES[mode].window == "square"


def reveal_kernel(radius: int, square: bool = False) -> torch.Tensor:
    """The region one fixation reveals around it: ``(2 r + 1, 2 r + 1)`` of 0/1, a disc (or a square)."""
    if square:
        return torch.ones(2 * radius + 1, 2 * radius + 1)
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float32)
    return ((offsets.view(-1, 1) ** 2 + offsets.view(1, -1) ** 2) <= radius**2).float()


def reveal_gain(values: torch.Tensor, hidden: torch.Tensor, radius: int, square: bool = False) -> torch.Tensor:
    """For every pixel, the sum of ``values`` over the still ``hidden`` pixels a fixation there would reveal:
    ``(..., H, W)`` maps -> float32 ``(..., H, W)``.

    A convolution with ``reveal_kernel`` (zero outside the image), taken through the FFT in float64: a few
    milliseconds for a batch where a direct ``(2 r + 1)^2`` convolution takes a hundred times longer.
    """
    height, width = values.shape[-2:]
    size = (height + 2 * radius, width + 2 * radius)  # a linear convolution: nothing wraps around
    weighted = (values * hidden).reshape(-1, height, width).double()
    kernel = torch.fft.rfft2(reveal_kernel(radius, square).double().to(weighted.device), s=size)
    full = torch.fft.irfft2(torch.fft.rfft2(weighted, s=size) * kernel, s=size)
    largest = weighted.abs().sum(dim=(1, 2)).view(-1, 1, 1)  # FFT rounding is relative to it: below, a sum is 0
    full = torch.where(full.abs() <= FFT_ROUNDING * largest, 0.0, full)
    return full[:, radius : radius + height, radius : radius + width].float().reshape(values.shape)


def best_pixels(gain: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The pixel of highest gain in each map ``(N, H, W)``: ``(N, 2)`` long (x, y), and whether it reveals
    anything at all ``(N,)`` bool (nothing left worth revealing: False)."""
    flat = gain.reshape(gain.shape[0], -1)
    best = flat.argmax(dim=1)
    width = gain.shape[-1]
    points = torch.stack([best % width, torch.div(best, width, rounding_mode="floor")], dim=1)
    return points, flat.gather(1, best[:, None])[:, 0] > 0
