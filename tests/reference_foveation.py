"""An independent, deliberately plain foveal filter for tests: one image at a time, written from
DESIGN section 2 with torchvision's own blur and resize, and no lookup tables or matrix tricks.
It places the loss mask where the image is really sharp (the reference returns it transposed)."""

from __future__ import annotations

import math

import torch
from torchvision.transforms import functional as TF


def plain_foveate(image: torch.Tensor, x: int, y: int, antialias: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """``(3, H, W)`` -> foveated ``(3, H, W)`` and loss mask ``(H, W)`` (1 = not full weight)."""
    levels, sigma, p, alpha = 6, 0.248, 3.5, 2.5
    _, height, width = image.shape
    pyramid, level = [image], image
    for _ in range(1, levels):
        level = TF.gaussian_blur(level, [5, 5], [sigma, sigma])
        level = TF.resize(level, [int(level.shape[1] / 2), int(level.shape[2] / 2)], antialias=antialias)
        pyramid.append(level)
    for i in range(1, levels):
        up = pyramid[i]
        for j in range(i):
            size = [up.shape[1] * 2, up.shape[2] * 2] if j < i - 1 else [height, width]
            up = TF.resize(up, size, antialias=antialias)
        pyramid[i] = up
    rows = torch.arange(height, dtype=torch.float32).view(-1, 1)
    cols = torch.arange(width, dtype=torch.float32).view(1, -1)
    theta = torch.sqrt((cols - x) ** 2 + (rows - y) ** 2) / p
    resolution = alpha / (theta + alpha)
    transfer = [torch.exp(-0.5 * ((2.0 ** (i - 3)) * resolution / sigma) ** 2) for i in range(1, levels)]
    transfer.append(torch.zeros_like(resolution))
    omega = [sigma * math.sqrt(math.log(2)) / (2.0 ** (i - 3) * math.sqrt(0.5)) for i in range(1, levels)] + [0.0]
    omega = [w / max(omega) for w in omega]
    layer = torch.zeros_like(resolution, dtype=torch.int64)
    for i in range(1, levels):
        layer[(resolution >= omega[i]) & (resolution <= omega[i - 1])] = i
    weights = torch.zeros(levels, height, width)
    for i in range(1, levels):
        here = layer == i
        if i == 1:
            weights[0][here] = 1.0
        else:
            blend = (0.5 - transfer[i]) / (transfer[i - 1] - transfer[i] + 1e-5)
            weights[i - 1][here] = 1 - blend[here]
            weights[i - 2][here] = blend[here]
    out = sum(weights[i] * pyramid[i] for i in range(levels))
    return out.clamp(0, 1), (weights[0] != 1).float()
