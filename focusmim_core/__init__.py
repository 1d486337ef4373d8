"""FocusMIM core: masked image modeling across eye movements, as one exact, batched library.

Every function takes batches ``(N, C, H, W)`` of float images in [0, 1] on any device,
per-sample fixations ``(N, 2)`` as (x = column, y = row) and per-sample ratios, and a
``torch.Generator`` for randomness. The app renders one image with these functions and
the trainer runs 512 images on a GPU with the very same ones.
"""

from .checkpoints import (
    CheckpointInfo,
    CheckpointMetadata,
    default_checkpoint,
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
)
from .data import STL10, SyntheticScenes, gallery_image, gallery_images, load_image
from .errors import CheckpointError, DatasetError, InputError
from .experiments import CONDITIONS, paper_conditions
from .fixations import as_points, sample_fixations
from .foveation import FovealFilter, foveate
from .losses import error_map, masked_mse, per_sample_masked_mse
from .masking import FILLS, MODES, MaskingMode, mask_images, patch_count, periphery_radius, square_side
from .metrics import decorrelation, psnr, sparsity
from .model import Autoencoder, inference_model
from .segmentation import SegmentationUnavailable, foreground, keep_images

__version__ = "0.1.0"

__all__ = [
    "CONDITIONS",
    "FILLS",
    "MODES",
    "STL10",
    "Autoencoder",
    "CheckpointError",
    "CheckpointInfo",
    "CheckpointMetadata",
    "DatasetError",
    "FovealFilter",
    "InputError",
    "MaskingMode",
    "SegmentationUnavailable",
    "SyntheticScenes",
    "as_points",
    "decorrelation",
    "default_checkpoint",
    "error_map",
    "foreground",
    "foveate",
    "gallery_image",
    "gallery_images",
    "inference_model",
    "keep_images",
    "list_checkpoints",
    "load_checkpoint",
    "load_image",
    "mask_images",
    "masked_mse",
    "paper_conditions",
    "patch_count",
    "per_sample_masked_mse",
    "periphery_radius",
    "psnr",
    "sample_fixations",
    "save_checkpoint",
    "sparsity",
    "square_side",
]
