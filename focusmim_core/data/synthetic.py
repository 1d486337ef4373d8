"""Procedural labelled scenes for offline use: 10 object classes on dead-leaves backgrounds.

Every image is a pure function of ``(seed, split, index)``: the random numbers come from
a counter-based hash, not a stateful generator, so any subset of any size is made on
any device without disk, batched, and the same image always comes out again. Splits
use disjoint streams. The foreground map is the object's exact coverage in [0, 1].

Classes differ by shape only (colour, texture, size, position and rotation are random),
so a linear probe has to find shape in the representation. Two layouts (``LAYOUTS``):
``scattered`` objects for pretraining, and ``centred`` ones (like STL-10's photos) for the
labelled probe splits, since a linear layer on a flattened spatial latent cannot follow an
object that moves around the image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..geometry import IMAGE_SIZE

SYNTHETIC_CLASSES = ("disc", "square", "triangle", "star", "ring", "cross", "bar", "crescent", "hexagon", "ell")
SPLIT_SALTS = {"train": 0x1F2E3D4C, "val": 0x5B6A7988, "test": 0x13572468, "pretrain": 0x2468ACE0}
LEAVES = 36  # dead-leaves discs per background


@dataclass(frozen=True)
class Layout:
    """Where objects sit and how big they are, as fractions of the image side.

    The centre is uniform in ``[0.5 - centre_spread / 2, 0.5 + centre_spread / 2]`` on each
    axis; the object radius is uniform in ``[radius_min, radius_max]``.
    """

    centre_spread: float
    radius_min: float
    radius_max: float


LAYOUTS = {
    # anywhere in the middle 40 % at radius 16-30 %: varied scenes for pretraining
    "scattered": Layout(centre_spread=0.4, radius_min=0.16, radius_max=0.30),
    # near the centre at radius 26-34 %, like STL-10's photos: what a linear probe of a
    # spatial latent can read (the flattened 12 x 12 grid is not translation invariant)
    "centred": Layout(centre_spread=0.1, radius_min=0.26, radius_max=0.34),
}
_MASK32 = 0xFFFFFFFF


def _hash32(x: torch.Tensor) -> torch.Tensor:
    """A 32-bit integer hash (two xorshift-multiply rounds) on int64 tensors; no overflow."""
    x = x & _MASK32
    x = x ^ (x >> 16)
    x = (x * 0x7FEB352D) & _MASK32
    x = x ^ (x >> 15)
    x = (x * 0x2C1B3C6D) & _MASK32
    return x ^ (x >> 16)


def uniform(keys: torch.Tensor, stream: int, count: int) -> torch.Tensor:
    """``count`` uniform numbers in [0, 1) per key: ``(N,)`` int64 -> ``(N, count)`` float32."""
    j = torch.arange(count, device=keys.device, dtype=torch.int64)
    mixed = _hash32(keys.view(-1, 1) * 0x9E37 + _hash32(torch.full_like(j, stream) * 0x85EB + j))
    return (_hash32(mixed ^ 0x27D4EB2F) >> 8).to(torch.float32) / float(1 << 24)


def _rotate(x: torch.Tensor, y: torch.Tensor, angle: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    c, s = torch.cos(angle), torch.sin(angle)
    return c * x + s * y, -s * x + c * y


def _box(x: torch.Tensor, y: torch.Tensor, half_w: float, half_h: float) -> torch.Tensor:
    dx, dy = x.abs() - half_w, y.abs() - half_h
    outside = torch.sqrt(dx.clamp_min(0) ** 2 + dy.clamp_min(0) ** 2)
    return outside + torch.maximum(dx, dy).clamp_max(0)


def shape_distance(label: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Signed distance (in object radii, negative inside) of each class's unit-size shape.

    ``label`` ``(N, 1, 1)``; ``x``, ``y`` ``(N, H, W)`` object coordinates -> ``(N, H, W)``.
    """
    r = torch.sqrt(x**2 + y**2)
    theta = torch.atan2(y, x)
    k = math.sqrt(3.0)
    tri = torch.maximum(x.abs() * k / 2 + y / 2, -y) - 0.5
    hexagon = torch.maximum(x.abs() * k / 2 + y.abs() / 2, y.abs()) - 0.85
    shapes = [
        r - 0.9,  # disc
        _box(x, y, 0.75, 0.75),  # square
        tri,  # triangle
        r - 0.95 * (0.62 + 0.38 * torch.cos(5 * theta)),  # star
        (r - 0.7).abs() - 0.22,  # ring
        torch.minimum(_box(x, y, 0.9, 0.25), _box(x, y, 0.25, 0.9)),  # cross
        _box(x, y, 1.0, 0.3),  # bar
        torch.maximum(r - 0.9, -(torch.sqrt((x - 0.45) ** 2 + y**2) - 0.75)),  # crescent
        hexagon,  # hexagon
        torch.minimum(_box(x + 0.35, y, 0.25, 0.9), _box(x, y - 0.65, 0.6, 0.25)),  # ell
    ]
    stacked = torch.stack(shapes, dim=0)  # (10, N, H, W)
    index = label.view(1, -1, 1, 1).expand(1, *stacked.shape[1:])
    return stacked.gather(0, index).squeeze(0)


def _hsv_to_rgb(h: torch.Tensor, s: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    k = torch.stack([(5 + h * 6) % 6, (3 + h * 6) % 6, (1 + h * 6) % 6], dim=-1)
    return v.unsqueeze(-1) - v.unsqueeze(-1) * s.unsqueeze(-1) * torch.clamp(torch.minimum(k, 4 - k), 0, 1)


class SyntheticScenes:
    """A labelled procedural dataset: ``batch(indices)`` -> ``(images, foreground, labels)``.

    Args:
        split: ``train``, ``val``, ``test`` or ``pretrain`` (disjoint random streams).
        seed: changes every image of every split.
        length: nominal size of the split (indices beyond it are valid too).
        size: image side in pixels (96 for the paper's model).
        layout: a name in ``LAYOUTS``: ``scattered`` objects (pretraining) or ``centred``
            ones (the labelled probe splits).
    """

    classes = SYNTHETIC_CLASSES

    def __init__(
        self, split: str = "train", seed: int = 0, length: int = 5000, size: int = IMAGE_SIZE, layout: str = "scattered"
    ):
        if split not in SPLIT_SALTS:
            raise ValueError(f"unknown split {split!r}: use one of {', '.join(SPLIT_SALTS)}")
        if layout not in LAYOUTS:
            raise ValueError(f"unknown layout {layout!r}: use one of {', '.join(LAYOUTS)}")
        self.split, self.seed, self.length, self.size, self.layout = split, seed, length, size, layout

    def __len__(self) -> int:
        return self.length

    def keys(self, indices: torch.Tensor) -> torch.Tensor:
        """The per-image random key of each index: int64 ``(N,)``."""
        base = _hash32(torch.tensor(self.seed * 0x3C6EF372 + SPLIT_SALTS[self.split], dtype=torch.int64))
        return _hash32(indices.to(torch.int64) * 0x61C88647 + base.to(indices.device))

    def labels(self, indices: torch.Tensor) -> torch.Tensor:
        """Class of each index (balanced: ``index % 10``): int64 ``(N,)``."""
        return indices.to(torch.int64) % len(SYNTHETIC_CLASSES)

    def batch(
        self, indices: torch.Tensor | range | list[int], device: torch.device | str = "cpu"
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Images ``(N, 3, S, S)`` in [0, 1], foreground ``(N, 1, S, S)`` in [0, 1], labels ``(N,)``."""
        indices = torch.as_tensor(list(indices) if isinstance(indices, range) else indices, device=device)
        keys = self.keys(indices)
        labels = self.labels(indices)
        background = self._dead_leaves(keys)
        obj, alpha = self._object(keys, labels)
        images = (alpha * obj + (1 - alpha) * background).clamp(0, 1)
        return images, alpha, labels

    def _grid(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        coords = (torch.arange(self.size, device=device, dtype=torch.float32) + 0.5) / self.size
        return coords.view(1, 1, -1), coords.view(1, -1, 1)  # x (1, 1, W), y (1, H, 1)

    def _dead_leaves(self, keys: torch.Tensor) -> torch.Tensor:
        """Occluding discs with power-law radii (scale-invariant, like natural images)."""
        n, device = keys.shape[0], keys.device
        u = uniform(keys, 1, LEAVES * 6 + 6).view(n, -1)
        leaf = u[:, : LEAVES * 6].view(n, LEAVES, 6)
        x, y = self._grid(device)
        r_min, r_max = 0.03, 0.6
        radius = r_min / torch.sqrt(1 - leaf[..., 2] * (1 - (r_min / r_max) ** 2))  # p(r) ~ r^-3
        base_hue = u[:, -1:]
        hue = (base_hue + 0.25 * (leaf[..., 3] - 0.5)) % 1.0
        colour = _hsv_to_rgb(hue, 0.15 + 0.45 * leaf[..., 4], 0.2 + 0.7 * leaf[..., 5])  # (N, L, 3)
        top = torch.zeros((n, self.size, self.size), dtype=torch.int64, device=device)
        for k in range(1, LEAVES):  # paint in order: later leaves occlude earlier ones
            cx, cy, rk = leaf[:, k, 0].view(n, 1, 1), leaf[:, k, 1].view(n, 1, 1), radius[:, k].view(n, 1, 1)
            top.masked_fill_(((x - cx) ** 2 + (y - cy) ** 2) < rk**2, k)
        image = colour.gather(1, top.view(n, -1, 1).expand(n, self.size * self.size, 3))
        image = image.view(n, self.size, self.size, 3).permute(0, 3, 1, 2)
        shade = 0.85 + 0.3 * (u[:, -2].view(n, 1, 1, 1) * x.unsqueeze(1) + u[:, -3].view(n, 1, 1, 1) * y.unsqueeze(1))
        return (image * shade).clamp(0, 1)

    def _object(self, keys: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One object per image: its textured colour ``(N, 3, S, S)`` and coverage ``(N, 1, S, S)``."""
        n, device = keys.shape[0], keys.device
        u = uniform(keys, 2, 12)
        x, y = self._grid(device)
        layout = LAYOUTS[self.layout]
        scale = layout.radius_min + (layout.radius_max - layout.radius_min) * u[:, 0]  # radius / image side
        cx = 0.5 - layout.centre_spread / 2 + layout.centre_spread * u[:, 1]
        cy = 0.5 - layout.centre_spread / 2 + layout.centre_spread * u[:, 2]
        angle = 2 * math.pi * u[:, 3]
        ox = (x - cx.view(n, 1, 1)) / scale.view(n, 1, 1)
        oy = (y - cy.view(n, 1, 1)) / scale.view(n, 1, 1)
        ox, oy = _rotate(ox, oy, angle.view(n, 1, 1))
        distance = shape_distance(labels.view(n, 1, 1), ox, oy)
        pixel = 1.0 / (self.size * scale.view(n, 1, 1))  # one pixel in object units
        alpha = (0.5 - distance / pixel).clamp(0, 1).unsqueeze(1)  # anti-aliased coverage
        base = _hsv_to_rgb(u[:, 4], 0.5 + 0.5 * u[:, 5], 0.45 + 0.55 * u[:, 6]).view(n, 3, 1, 1)
        stripes = torch.sin(
            2
            * math.pi
            * (2 + 4 * u[:, 7].view(n, 1, 1))
            * (ox * torch.cos(7 * u[:, 8].view(n, 1, 1)) + oy * torch.sin(7 * u[:, 8].view(n, 1, 1)))
        )
        texture = 1 + 0.25 * u[:, 9].view(n, 1, 1, 1) * stripes.unsqueeze(1)
        light = 1 - 0.25 * (ox * u[:, 10].view(n, 1, 1) + oy * u[:, 11].view(n, 1, 1)).unsqueeze(1) / 2
        return (base * texture * light).clamp(0, 1), alpha
