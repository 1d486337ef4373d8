"""ConvNeXt-V2-Pico as a masked autoencoder (paper 3.5): timm's encoder, FCMAE-style dense masking.

Encoder: timm's ``convnextv2_pico`` (depths 2, 2, 6, 2; widths 64, 128, 256, 512; GRN; no hub
weights), whose stem and stages take 96 x 96 images to 24, 12, 6 and 3 px. Masking follows
SparK's dense formulation of FCMAE's sparse convolution: the visible cells are a 12 x 12 grid
(the 8 x 8 px cells of our random patches; a cell is visible when its centre pixel, (8i + 4,
8j + 4), is), upsampled to 24 x 24 for the first stage and max-pooled for the deeper ones, and every
layer's output is multiplied by the mask of its resolution, so masked positions are zero
everywhere and GRN's spatial norm runs over visible positions only: a masked pixel never
changes a visible feature. Decoder (FCMAE): 1x1 conv to 512, a learned mask token at the
3 x 3 positions that saw nothing, one ConvNeXt-V2 block, 1x1 conv to 32 x 32 x 3 pixels per
position, a sigmoid. With the masked periphery the paper predicted the surround from the
central patches; here that is ``periphery_square``: at ratio 0.8 (a 43 px square, pixels 27-69)
its visible cells are rows and columns 3-8 of the 12 x 12 grid (pixels 24-71), 36 of 144 cells;
the loss stays on the pixels outside the square.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .geometry import GRID

DECODER_WIDTH = 512
PATCH = 32  # pixels per side of one decoder position (the encoder's total stride)


def visible_cells(visible: torch.Tensor, cells: int = GRID) -> torch.Tensor:
    """Cells whose centre pixel is shown: ``(N, 1, H, W)`` visibility in [0, 1] -> ``(N, 1, cells, cells)`` of 0/1."""
    step = visible.shape[-1] // cells
    return (visible[..., step // 2 :: step, step // 2 :: step] > 0.5).float()


def mask_at(cells: torch.Tensor, size: int) -> torch.Tensor:
    """The cell mask at another resolution: nearest upsampling above 12 px, max-pooling below."""
    if size == cells.shape[-1]:
        return cells
    if size > cells.shape[-1]:
        return F.interpolate(cells, size=(size, size), mode="nearest")
    return F.adaptive_max_pool2d(cells, size)


class _Masker:
    """Multiplies a feature map by the visibility mask of its resolution (cached per size); no-op without one."""

    def __init__(self, cells: torch.Tensor | None):
        self.cells, self.cache = cells, {}

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.cells is None:
            return x
        size = x.shape[-1]
        if size not in self.cache:
            self.cache[size] = mask_at(self.cells, size).to(x.dtype)
        return x * self.cache[size]


def _masked_block(block: nn.Module, x: torch.Tensor, mask: _Masker) -> torch.Tensor:
    """A timm ConvNeXt-V2 block (conv MLP, GRN) with the masked positions zeroed after every layer."""
    shortcut = x
    x = mask(block.norm(mask(block.conv_dw(x))))
    mlp = block.mlp
    x = mask(mlp.act(mlp.fc1(x)))  # zero before GRN: its spatial norm is over visible positions only
    x = mask(mlp.fc2(mlp.grn(x)))
    if block.gamma is not None:
        x = x * block.gamma.reshape(1, -1, 1, 1)
    return mask(block.drop_path(x) + block.shortcut(shortcut))


def _encoder() -> nn.Module:
    """timm's ``convnextv2_pico`` without its classifier head (random init: no hub weights here)."""
    import timm

    return timm.create_model("convnextv2_pico", pretrained=False, num_classes=0)


class ConvNeXtMAE(nn.Module):
    """ConvNeXt-V2-Pico masked autoencoder: ``forward(x (N, 3, 96, 96), visible)`` -> ``(reconstruction, latent)``.

    ``visible`` ``(N, 1, 96, 96)`` marks the pixels the network is shown (None: all of them);
    ``reconstruction`` is ``(N, 3, 96, 96)`` in (0, 1); ``latent`` is the stage-2 map
    ``(N, 128, 12, 12)`` (what the Latent page and the training statistics read).
    """

    def __init__(self):
        super().__init__()
        from timm.models.convnext import ConvNeXtBlock

        self.encoder = _encoder()
        width = self.encoder.num_features
        self.proj = nn.Conv2d(width, DECODER_WIDTH, 1)
        self.mask_token = nn.Parameter(torch.zeros(1, DECODER_WIDTH, 1, 1))
        self.decoder = ConvNeXtBlock(DECODER_WIDTH, conv_mlp=True, use_grn=True, ls_init_value=None)
        self.pred = nn.Conv2d(DECODER_WIDTH, PATCH * PATCH * 3, 1)
        nn.init.trunc_normal_(self.mask_token, std=0.02)

    def stages(self, x: torch.Tensor, visible: torch.Tensor | None = None) -> tuple[list[torch.Tensor], _Masker]:
        """Every stage's output, ``(N, 64, 24, 24)`` ... ``(N, 512, 3, 3)``, with the masking applied."""
        mask = _Masker(None if visible is None else visible_cells(visible).to(x.device))
        x = mask(self.encoder.stem(x))
        outputs = []
        for stage in self.encoder.stages:
            for layer in stage.downsample if isinstance(stage.downsample, nn.Sequential) else [stage.downsample]:
                x = mask(layer(x))
            for block in stage.blocks:
                x = _masked_block(block, x, mask)
            outputs.append(x)
        return outputs, mask

    def forward(
        self, x: torch.Tensor, visible: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Masked images ``(N, 3, 96, 96)`` (``visible``: ``(N, 1, 96, 96)``, 1 = shown) -> (reconstruction, latent)."""
        outputs, mask = self.stages(x, visible)
        features = self.proj(outputs[-1])
        if mask.cells is not None:
            seen = mask_at(mask.cells, features.shape[-1]).to(features.dtype)
            features = features * seen + self.mask_token.to(features.dtype) * (1.0 - seen)
        pixels = self.pred(self.decoder(features))
        return torch.sigmoid(F.pixel_shuffle(pixels, PATCH)), outputs[1]

    def encode(self, x: torch.Tensor, visible: torch.Tensor | None = None) -> torch.Tensor:
        """The 12 x 12 feature map ``(N, 128, 12, 12)`` of ``(N, 3, 96, 96)`` images (stage 2)."""
        return self.stages(x, visible)[0][1]

    def probe_features(self, x: torch.Tensor) -> torch.Tensor:
        """What the linear probe reads (paper 3.5: no global pooling): the last stage flattened, ``(N, 4608)``."""
        return self.stages(x)[0][-1].flatten(1)
