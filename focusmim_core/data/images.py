"""Loading a user's image file into a 96 x 96 RGB tensor, refusing what is not a sound image."""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import DatasetError, InputError, echo

IMAGE_SIZE = 96
MAX_UPLOAD_BYTES = 25 * 1024 * 1024  # 25 MB
MAX_PIXELS = 40_000_000  # refuse larger images (decompression bombs) before decoding
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def image_files(folder: str | os.PathLike) -> list[Path]:
    """Every image file in ``folder`` and its subfolders, sorted by path; ``DatasetError`` when there are none.

    The one listing rule of a folder dataset: segmenting a folder (``train.segment``) and
    pretraining on it (``train.pretrain --dataset folder``) see the same images in the same
    order, so a segmentation file lines up with the images it was made from.
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise DatasetError(f"The image folder {folder} does not exist: give a folder of image files.")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise DatasetError(f"No image files ({', '.join(IMAGE_SUFFIXES)}) in {folder} or its subfolders.")
    return files


def _read_bytes(file: str | os.PathLike | bytes | BinaryIO) -> tuple[bytes, str]:
    if isinstance(file, (bytes, bytearray, memoryview)):
        return bytes(file), "the uploaded data"
    if isinstance(file, (str, os.PathLike)):
        path = Path(file)
        if not path.is_file():
            raise InputError(f"No image file at {path}: check the path.")
        if path.stat().st_size > MAX_UPLOAD_BYTES:
            raise InputError(
                f"{echo(path.name)} is {path.stat().st_size / 1e6:.0f} MB; images up to "
                f"{MAX_UPLOAD_BYTES // 2**20} MB are accepted. Resize it first."
            )
        return path.read_bytes(), echo(path.name)
    name = getattr(file, "name", "the uploaded file")
    data = file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise InputError(f"{echo(name)} is larger than {MAX_UPLOAD_BYTES // 2**20} MB: resize it first.")
    return data, echo(name)  # a file name is the user's text: quoted, never Markdown


def _to_rgb_array(image: Image.Image) -> np.ndarray:
    """RGB float array in [0, 1] ``(H, W, 3)`` from any PIL mode; transparency over white."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        array = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if image.mode.startswith("I;16") or array.max() > 255 else 255.0
        gray = np.clip(array / peak, 0, 1)
        return np.repeat(gray[..., None], 3, axis=2)
    if image.mode == "F":
        gray = np.asarray(image, dtype=np.float64)
        lo, hi = float(np.nanmin(gray)), float(np.nanmax(gray))
        gray = np.zeros_like(gray) if hi <= lo else (gray - lo) / (hi - lo)
        return np.repeat(gray[..., None], 3, axis=2)
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    return np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0


def _shrink(image: Image.Image, size: int) -> Image.Image:
    """The image's centre square, reduced in its own mode (uint8 for most) by a whole factor to at least
    ``2 * size`` pixels a side, so that no float copy is ever made of a huge image."""
    side = min(image.width, image.height)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    box = (left, top, left + side, top + side)
    factor = side // (2 * size)
    if factor < 2:
        return image.crop(box)
    if image.mode not in ("L", "LA", "RGB", "RGBA", "I", "F", "CMYK"):
        image = image.convert("RGBA" if image.mode in ("P", "PA") else "RGB")
    return image.reduce(factor, box=box)  # crops and reduces in one pass, no full-size copy


def square_crop_resize(array: np.ndarray, size: int = IMAGE_SIZE) -> torch.Tensor:
    """Centre-crop an ``(H, W, 3)`` array in [0, 1] to a square and resize (antialiased) to ``(3, size, size)``."""
    height, width = array.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    crop = torch.from_numpy(np.ascontiguousarray(array[top : top + side, left : left + side])).permute(2, 0, 1).float()
    if side != size:
        crop = torch.nn.functional.interpolate(
            crop[None], size=(size, size), mode="bilinear", align_corners=False, antialias=True
        )[0]
    return crop.clamp(0, 1)


def load_image(file: str | os.PathLike | bytes | BinaryIO, size: int = IMAGE_SIZE) -> torch.Tensor:
    """Read an image file (path, bytes or file object) as float ``(3, size, size)`` in [0, 1].

    Applies the EXIF orientation; converts grayscale, 16-bit, palette, CMYK and
    transparent images (composited over white); centre-crops to a square and resizes
    with antialiasing. Raises ``InputError`` for a file that is not an image, is
    truncated, or is too large (over 25 MB or 40 megapixels: a decompression bomb).
    """
    data, name = _read_bytes(file)
    if not data:
        raise InputError(f"{name} is empty: choose an image file (PNG, JPEG, WebP, TIFF, BMP, GIF).")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > MAX_PIXELS:
                raise InputError(
                    f"{name} is {image.width} x {image.height} pixels; images up to "
                    f"{MAX_PIXELS // 1_000_000} megapixels are accepted. Resize it first."
                )
            image.draft(image.mode, (2 * size, 2 * size))  # JPEG: decode at a reduced scale already
            image.load()
            image = _shrink(ImageOps.exif_transpose(image), size)
            array = _to_rgb_array(image)
    except InputError:
        raise
    except (UnidentifiedImageError, SyntaxError):
        raise InputError(
            f"{name} is not an image PIL can read: choose a PNG, JPEG, WebP, TIFF, BMP or GIF file."
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(f"{name} declares an enormous size (a decompression bomb): it was not decoded.") from None
    except (OSError, ValueError, EOFError) as error:
        raise InputError(
            f"{name} could not be decoded ({str(error)[:120]}): the file is probably truncated "
            "or damaged. Save or download it again."
        ) from None
    if array.shape[0] < 8 or array.shape[1] < 8:
        raise InputError(f"{name} is only {array.shape[1]} x {array.shape[0]} pixels: use an image of at least 8 x 8.")
    return square_crop_resize(array, size)


def to_uint8_image(image: torch.Tensor) -> np.ndarray:
    """``(3, H, W)`` float in [0, 1] -> ``(H, W, 3)`` uint8 array (for PIL, PNG, display)."""
    return image.detach().clamp(0, 1).mul(255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
