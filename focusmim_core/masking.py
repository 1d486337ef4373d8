"""Masking modes: what the network sees of an image, and where the loss is computed.

Every mode maps a batch ``(N, C, H, W)`` in [0, 1] to ``(inputs, loss_mask)`` with
``loss_mask`` ``(N, 1, H, W)`` in {0, 1}, 1 where the input is incomplete. Ratios and
fixations are per sample; all randomness comes from a ``torch.Generator``. Modes are
registered in ``MODES`` (name -> ``MaskingMode``), so the app, the trainer and the
benchmarks list and call them the same way.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from .errors import InputError
from .filters import gaussian_blur
from .fixations import PointsLike, as_points, join_points
from .foveation import foveate
from .geometry import CELL_PIXELS, GRID_CELLS, IMAGE_SIZE

BLUR_KERNEL_SIZE = 33  # the reference's blur fill: kernel 33, sigma 100
BLUR_SIGMA = 100.0
FILLS = ("mean", "blur")

RatioLike = float | Sequence[float] | torch.Tensor


def as_ratios(ratio: RatioLike, batch: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Per-sample masking ratios as float64 ``(N,)`` in [0, 1]; raises ``InputError`` otherwise."""
    ratios = torch.as_tensor(ratio, dtype=torch.float64, device=device).reshape(-1)
    if ratios.numel() not in (1, batch):
        raise InputError(f"Give one masking ratio or one per image ({batch}); got {ratios.numel()}.")
    if not bool(((ratios >= 0) & (ratios <= 1)).all()):
        raise InputError(f"The masking ratio must lie between 0 and 1; got {ratios.tolist()[:4]}.")
    return ratios.expand(batch)


def periphery_radius(ratio: RatioLike, height: int = IMAGE_SIZE, width: int = IMAGE_SIZE) -> torch.Tensor:
    """Radius of the visible disc, ``floor(sqrt(H * W * (1 - ratio) / pi))``: int64, shape of ``ratio``.

    Ratio 0.8 on 96 x 96 gives 24 (1,793 visible pixels at the centre).
    """
    ratios = torch.as_tensor(ratio, dtype=torch.float64)
    return torch.floor(torch.sqrt(height * width * (1 - ratios) / math.pi)).long()


def square_side(ratio: RatioLike, height: int = IMAGE_SIZE, width: int = IMAGE_SIZE) -> torch.Tensor:
    """Side of the visible square: the square of the disc's area, ``round(sqrt(pi) * r)``: int64."""
    return torch.round(math.sqrt(math.pi) * periphery_radius(ratio, height, width).double()).long()


def patch_count(ratio: RatioLike, patches: int = GRID_CELLS) -> torch.Tensor:
    """Number of filled patches, ``floor(patches * ratio)`` computed in float64 as the reference does."""
    return torch.floor(torch.as_tensor(ratio, dtype=torch.float64) * patches).long()


def random_patch_mask(
    batch: int,
    height: int,
    width: int,
    ratios: torch.Tensor,
    generator: torch.Generator | None = None,
    patch_size: int = CELL_PIXELS,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Loss mask of ``floor(P * ratio)`` patches per image drawn uniformly without replacement.

    ``P = (H // patch_size) * (W // patch_size)`` (144 for 96 x 96). -> ``dtype`` ``(N, 1, H, W)``
    in {0, 1}, 1 on hidden patches.
    """
    rows, cols = height // patch_size, width // patch_size
    if rows * patch_size != height or cols * patch_size != width:
        raise InputError(f"Random patches need image sides divisible by {patch_size}; got {width} x {height}.")
    counts = patch_count(ratios, rows * cols).to(device)
    order = torch.rand(batch, rows * cols, generator=generator, device=device).argsort(dim=1)
    first = (torch.arange(rows * cols, device=device).view(1, -1) < counts.view(-1, 1)).to(dtype)
    chosen = torch.zeros_like(first).scatter_(1, order, first).view(batch, 1, rows, 1, cols, 1)
    return chosen.expand(batch, 1, rows, patch_size, cols, patch_size).reshape(batch, 1, height, width)


def _outside_every_region(greater: torch.Tensor, smaller: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``greater > smaller`` per point ``(N, K, ., .)``, broadcast to ``(N, K, H, W)`` -> ``dtype``
    ``(N, 1, H, W)``: 1 where the pixel is outside every point's region.

    With one point the comparison is written straight into ``dtype`` (one pass; a bool
    result and a cast would be two).
    """
    n, regions, height, width = greater.shape[0], greater.shape[1], smaller.shape[-2], greater.shape[-1]
    if regions == 1:
        out = torch.empty((n, 1, height, width), dtype=dtype, device=greater.device)
        return torch.gt(greater, smaller, out=out)
    return (greater > smaller).all(dim=1, keepdim=True).to(dtype)


def periphery_mask(
    points: torch.Tensor, ratios: torch.Tensor, height: int, width: int, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """Loss mask outside discs of radius ``periphery_radius(ratio)`` around every point.

    ``points`` ``(N, K, 2)``; pixel (row, col) is visible iff ``(col-x)^2 + (row-y)^2 <= r^2``
    for some point. -> ``dtype`` ``(N, 1, H, W)`` in {0, 1}. Exact: every term is a whole number.
    """
    radius = periphery_radius(ratios, height, width).to(points.device, points.dtype).view(-1, 1, 1, 1)
    cols = torch.arange(width, dtype=points.dtype, device=points.device)
    rows = torch.arange(height, dtype=points.dtype, device=points.device)
    dx2 = (cols.view(1, 1, 1, width) - points[..., 0, None, None]) ** 2  # (N, K, 1, W)
    room = radius**2 - (rows.view(1, 1, height, 1) - points[..., 1, None, None]) ** 2  # (N, K, H, 1)
    return _outside_every_region(dx2, room, dtype)


def periphery_square_mask(
    points: torch.Tensor, ratios: torch.Tensor, height: int, width: int, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """Loss mask outside squares of side ``s = square_side(ratio)`` around every point.

    The square spans columns ``x - s // 2`` to ``x - s // 2 + s - 1`` (rows likewise).
    ``points`` ``(N, K, 2)`` -> ``dtype`` ``(N, 1, H, W)`` in {0, 1}.
    """
    side = square_side(ratios, height, width).to(points.device, points.dtype).view(-1, 1, 1, 1)
    start = points[..., None, None] - torch.div(side, 2, rounding_mode="floor").unsqueeze(-1)  # (N, K, 2, 1, 1)
    cols = torch.arange(width, dtype=points.dtype, device=points.device).view(1, 1, 1, width)
    rows = torch.arange(height, dtype=points.dtype, device=points.device).view(1, 1, height, 1)
    col_out = ((cols < start[:, :, 0]) | (cols >= start[:, :, 0] + side)).to(points.dtype)  # (N, K, 1, W)
    row_out = ((rows < start[:, :, 1]) | (rows >= start[:, :, 1] + side)).to(points.dtype)  # (N, K, H, 1)
    # outside iff col_out or row_out, i.e. col_out > 0.5 - row_out (one broadcast comparison)
    return _outside_every_region(col_out, 0.5 - row_out, dtype)


def fill_values(images: torch.Tensor, fill: str) -> torch.Tensor:
    """What hidden pixels show: each channel's image mean (``mean``, broadcastable ``(N, C, 1, 1)``)
    or a strong Gaussian blur of the image (``blur``: kernel 33, sigma 100, ``(N, C, H, W)``)."""
    if fill == "mean":
        return images.mean(dim=(2, 3), keepdim=True)
    if fill == "blur":
        return gaussian_blur(images, BLUR_KERNEL_SIZE, BLUR_SIGMA)
    raise InputError(f"Unknown fill {fill!r}: use one of {', '.join(FILLS)}.")


@dataclass(frozen=True, kw_only=True)
class MaskingMode:
    """A registered masking mode: the one source of its facts (names, what it uses; the paper's results per
    condition are in ``focusmim_core.experiments``)."""

    name: str
    label: str  # as menus show it
    short_label: str  # as column headers show it
    description: str
    uses_ratio: bool
    uses_fill: bool
    uses_fixation: bool
    supports_attention: bool
    default_ratio: float
    uses_seed: bool = False  # its mask is drawn at random (a view's seed picks it)
    window: str = ""  # the shape left visible around a fixation: disc | square ('' for none)


MODES: dict[str, MaskingMode] = {
    mode.name: mode
    for mode in (
        MaskingMode(
            name="none",
            label="Autoencoder (no mask)",
            short_label="Autoencoder",
            description="the whole image; loss everywhere",
            uses_ratio=False,
            uses_fill=False,
            uses_fixation=False,
            supports_attention=False,
            default_ratio=0.0,
        ),
        MaskingMode(
            name="random_patches",
            label="Random patches",
            short_label="Random patches",
            description=f"floor({GRID_CELLS} x ratio) random {CELL_PIXELS} x {CELL_PIXELS} patches hidden",
            uses_ratio=True,
            uses_fill=True,
            uses_fixation=False,
            supports_attention=False,
            default_ratio=0.6,
            uses_seed=True,
        ),
        MaskingMode(
            name="periphery",
            label="Masked periphery",
            short_label="Periphery",
            description="a disc around the fixation visible, the rest hidden",
            uses_ratio=True,
            uses_fill=True,
            uses_fixation=True,
            supports_attention=True,
            default_ratio=0.8,
            window="disc",
        ),
        MaskingMode(
            name="periphery_square",
            label="Masked periphery (square)",
            short_label="Square periphery",
            description="a square of the disc's area visible",
            uses_ratio=True,
            uses_fill=True,
            uses_fixation=True,
            supports_attention=True,
            default_ratio=0.8,
            window="square",
        ),
        MaskingMode(
            name="foveate",
            label="Foveal filter",
            short_label="Foveal filter",
            description="Perry-Geisler blur growing with eccentricity; nothing hidden",
            uses_ratio=False,
            uses_fill=False,
            uses_fixation=True,
            supports_attention=True,
            default_ratio=0.0,
        ),
    )
}

HIDING_MODES = tuple(name for name, spec in MODES.items() if spec.uses_fill)  # they hide pixels behind a fill

REGION_MASKS: dict[str, Callable[..., torch.Tensor]] = {
    "periphery": periphery_mask,
    "periphery_square": periphery_square_mask,
}


def check_mode(mode: str) -> MaskingMode:
    """The registered mode called ``mode`` (``None`` is accepted as the reference's ``'None'``)."""
    key = "none" if mode in (None, "None") else mode
    if key not in MODES:
        raise InputError(f"Unknown masking mode {mode!r}: use one of {', '.join(MODES)}.")
    return MODES[key]


def check_attention(mode: str) -> MaskingMode:
    """The registered mode called ``mode`` when it takes a covert-attention point; ``InputError`` otherwise."""
    spec = check_mode(mode)
    if not spec.supports_attention:
        choices = ", ".join(name for name, other in MODES.items() if other.supports_attention)
        raise InputError(f"Covert attention needs a fixation-based mode ({choices}), not {spec.name}.")
    return spec


def mask_images(
    images: torch.Tensor,
    mode: str,
    ratio: RatioLike = 0.0,
    fixations: PointsLike = None,
    fill: str = "mean",
    attention: PointsLike = None,
    generator: torch.Generator | None = None,
    antialias: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mask a batch of images: what the network is given, and where its loss counts.

    Args:
        images: ``(N, C, H, W)`` float in [0, 1] on any device.
        mode: a name in ``MODES``: ``none``, ``random_patches``, ``periphery``,
            ``periphery_square`` or ``foveate``.
        ratio: fraction hidden, one float or ``(N,)``; ignored by ``none`` and ``foveate``.
        fixations: ``(x, y)``, ``(N, 2)`` or ``(N, K, 2)`` (x = column, y = row);
            ``None`` is the centre ``(W // 2, H // 2)``. Several points reveal several discs.
        fill: ``mean`` (each channel's image mean) or ``blur`` (Gaussian blur, kernel 33,
            sigma 100) for the hidden pixels. ``foveate`` fills nothing.
        attention: covert attention, ``(N, 2)`` or ``(x, y)``: a second visible region of
            the same size (periphery modes) or a second fovea (``foveate``).
        generator: randomness for ``random_patches``; must live on ``images.device``.
        antialias: for ``foveate``, antialiased pyramid resizes instead of the paper's.

    Returns:
        ``inputs`` ``(N, C, H, W)`` and ``loss_mask`` ``(N, 1, H, W)`` float, 1 where the
        input is incomplete (hidden, or blurred by the foveal filter).
    """
    spec = check_mode(mode) if attention is None else check_attention(mode)
    if images.ndim != 4:
        raise InputError(f"Images must be a (N, C, H, W) batch; got shape {tuple(images.shape)}.")
    n, _, height, width = images.shape
    if spec.uses_fill and fill not in FILLS:
        raise InputError(f"Unknown fill {fill!r}: use one of {', '.join(FILLS)}.")
    device = images.device
    if spec.name == "none":
        return images, torch.ones((n, 1, height, width), dtype=images.dtype, device=device)
    points = None
    if spec.uses_fixation:
        points = as_points(fixations, n, height, width, device)
        if attention is not None:
            points = join_points(points, as_points(attention, n, height, width, device))
    if spec.name == "foveate":
        return foveate(images, points, antialias=antialias)
    ratios = as_ratios(ratio, n, device)
    if spec.name == "random_patches":
        hidden = random_patch_mask(n, height, width, ratios, generator, device=device, dtype=images.dtype)
    else:
        hidden = REGION_MASKS[spec.name](points, ratios, height, width, dtype=images.dtype)
    # lerp with a 0/1 weight returns exactly the image or exactly the fill, in one pass
    return torch.lerp(images, fill_values(images, fill).to(images.dtype), hidden), hidden


def visible_pixels(loss_mask: torch.Tensor, modes: str | Sequence[str]) -> torch.Tensor:
    """The pixels a network is shown, ``(N, 1, H, W)`` in [0, 1], from the loss masks of ``modes`` (one or per sample).

    Modes that fill what they hide show the complement of their loss mask; the others (no mask,
    the foveal filter) show every pixel. Sparse architectures (ConvNeXt-V2) read this.
    """
    names = [modes] * loss_mask.shape[0] if isinstance(modes, str) else list(modes)
    hides = torch.tensor([check_mode(name).uses_fill for name in names], device=loss_mask.device)
    return torch.where(hides.view(-1, 1, 1, 1), 1.0 - loss_mask, torch.ones_like(loss_mask))
