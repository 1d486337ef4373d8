"""Linear image filters as batched separable matrix products (Gaussian blur, resizing).

A separable filter along one axis of length ``L`` is an ``(L_out, L)`` matrix; the 2-D
filter is ``A @ image @ B.T``. Folding the border handling (reflection, clamping) into
the matrix makes every filter two batched matrix products, which run near the
machine's peak on CPU and GPU alike. Matrices are built once per size and cached.
"""

from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn.functional as F


def gaussian_kernel1d(kernel_size: int, sigma: float) -> torch.Tensor:
    """Normalised 1-D Gaussian, float32 ``(kernel_size,)``, built as torchvision builds it."""
    half = (kernel_size - 1) * 0.5
    x = torch.linspace(-half, half, steps=kernel_size, dtype=torch.float32)
    pdf = torch.exp(-0.5 * (x / sigma).pow(2))
    return pdf / pdf.sum()


@lru_cache(maxsize=64)
def _blur_matrix_cpu(length: int, kernel_size: int, sigma: float) -> torch.Tensor:
    kernel = gaussian_kernel1d(kernel_size, sigma)
    half = kernel_size // 2
    if half >= length:
        raise ValueError(f"a {kernel_size}-tap blur needs images larger than {half} px (reflect padding)")
    matrix = torch.zeros(length, length, dtype=torch.float32)
    for out in range(length):
        for tap in range(kernel_size):
            src = out + tap - half
            if src < 0:
                src = -src
            elif src >= length:
                src = 2 * (length - 1) - src
            matrix[out, src] += kernel[tap]
    return matrix


@lru_cache(maxsize=64)
def _resize_matrix_cpu(length_in: int, length_out: int, antialias: bool) -> torch.Tensor:
    eye = torch.eye(length_in, dtype=torch.float32).view(length_in, 1, 1, length_in)
    out = F.interpolate(eye, size=(1, length_out), mode="bilinear", align_corners=False, antialias=antialias)
    return out.view(length_in, length_out).T.contiguous()


@lru_cache(maxsize=64)
def _on_device(matrix: torch.Tensor, key: tuple, device: str, dtype: torch.dtype) -> torch.Tensor:
    """One copy of a cached operator per (key, device, dtype); the least recently used go first."""
    return matrix.to(device=device, dtype=dtype)


def cached_on_device(matrix: torch.Tensor, key: tuple, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """``matrix`` (a cached CPU float32 operator) on ``device`` in ``dtype``, copied once per key (64 kept)."""
    if device.type == "cpu" and dtype == torch.float32:
        return matrix
    return _on_device(matrix, key, str(device), dtype)


def blur_matrix(
    length: int,
    kernel_size: int,
    sigma: float,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """``(L, L)`` matrix of a 1-D Gaussian blur with reflect padding (torchvision's border)."""
    device = torch.device(device or "cpu")
    key = ("blur", length, kernel_size, float(sigma))
    return cached_on_device(_blur_matrix_cpu(length, kernel_size, float(sigma)), key, device, dtype)


def resize_matrix(
    length_in: int,
    length_out: int,
    antialias: bool,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """``(L_out, L_in)`` matrix of 1-D bilinear resizing (``align_corners=False``), as
    ``torch.nn.functional.interpolate`` does it, with or without antialiasing."""
    device = torch.device(device or "cpu")
    key = ("resize", length_in, length_out, bool(antialias))
    return cached_on_device(_resize_matrix_cpu(length_in, length_out, bool(antialias)), key, device, dtype)


def apply_separable(images: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """``rows @ image @ cols.T`` for every channel: ``(N, C, H, W)`` -> ``(N, C, H', W')``."""
    return torch.matmul(torch.matmul(rows, images), cols.T)


def gaussian_blur(images: torch.Tensor, kernel_size: int, sigma: float) -> torch.Tensor:
    """Gaussian blur with reflect padding, as ``torchvision``'s ``gaussian_blur``.

    ``images`` ``(N, C, H, W)`` float -> same shape. Matches torchvision within float
    rounding (about 1e-7); separable, so a 33-tap blur costs two matrix products.
    """
    height, width = images.shape[-2:]
    rows = blur_matrix(height, kernel_size, sigma, images.device, images.dtype)
    cols = blur_matrix(width, kernel_size, sigma, images.device, images.dtype)
    return apply_separable(images, rows, cols)


def resize(images: torch.Tensor, size: tuple[int, int], antialias: bool = False) -> torch.Tensor:
    """Bilinear resize (``align_corners=False``) of ``(N, C, H, W)`` to ``(N, C, *size)``."""
    height, width = images.shape[-2:]
    rows = resize_matrix(height, size[0], antialias, images.device, images.dtype)
    cols = resize_matrix(width, size[1], antialias, images.device, images.dtype)
    return apply_separable(images, rows, cols)
