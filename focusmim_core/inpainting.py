"""Harmonic inpainting: the classical, learning-free reference a reconstruction should beat.

Every hidden pixel gets the value that makes it the average of its four neighbours (the
discrete Laplace equation, reflecting borders), with the visible pixels held fixed: the
smoothest surface through what the network was shown. It needs no training and no
parameters, and it ignores the fill, so it is the answer to "is the network doing more
than blurring the visible pixels into the holes?". Solved exactly with a sparse LU
factorisation (scipy), one per view, shared by the colour channels.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from scipy.sparse.linalg import splu

from .errors import InputError


def grid_laplacian(height: int, width: int) -> sp.csc_matrix:
    """The graph Laplacian ``(H*W, H*W)`` of the 4-neighbour pixel grid (degree minus adjacency)."""
    index = np.arange(height * width).reshape(height, width)
    pairs = [(index[:, :-1].ravel(), index[:, 1:].ravel()), (index[:-1].ravel(), index[1:].ravel())]
    rows = np.concatenate([a for a, b in pairs] + [b for a, b in pairs])
    cols = np.concatenate([b for a, b in pairs] + [a for a, b in pairs])
    adjacency = sp.csc_matrix((np.ones(rows.size), (rows, cols)), shape=(height * width,) * 2)
    return (sp.diags(np.asarray(adjacency.sum(axis=1)).ravel()) - adjacency).tocsc()


def _inpaint_one(image: np.ndarray, known: np.ndarray, laplacian: sp.csc_matrix) -> np.ndarray:
    """One view: ``image`` ``(C, H*W)``, ``known`` ``(H*W,)`` bool; hidden pixels solved in place."""
    unknown = ~known
    if not unknown.any() or not known.any():  # nothing to fill, or nothing to fill it from
        return image
    solver = splu(laplacian[unknown][:, unknown].tocsc())
    rhs = -(laplacian[unknown][:, known] @ image[:, known].T)
    image = image.copy()
    image[:, unknown] = solver.solve(np.ascontiguousarray(rhs)).T
    return image


def harmonic_inpaint(images: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
    """Fill the pixels not shown: ``images`` ``(N, C, H, W)``, ``visible`` ``(N, 1, H, W)`` -> ``(N, C, H, W)``.

    A pixel counts as shown where ``visible > 0.5``; those keep their value exactly. A view
    with no visible pixel is returned unchanged (nothing to extend). Runs on the CPU in
    float64 and returns ``images``' dtype and device; about 20 ms per 96 x 96 view.
    """
    if images.ndim != 4 or visible.shape != (images.shape[0], 1, *images.shape[2:]):
        raise InputError(
            f"Need images (N, C, H, W) and a visible mask (N, 1, H, W); got {tuple(images.shape)} "
            f"and {tuple(visible.shape)}."
        )
    n, channels, height, width = images.shape
    laplacian = grid_laplacian(height, width)
    flat = images.detach().to("cpu", torch.float64).reshape(n, channels, -1).numpy()
    known = (visible.detach().cpu().reshape(n, -1) > 0.5).numpy()
    filled = np.stack([_inpaint_one(flat[i], known[i], laplacian) for i in range(n)])
    return torch.from_numpy(filled).reshape(images.shape).to(images.device, images.dtype)
