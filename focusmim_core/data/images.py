"""Loading a user's image file into a 96 x 96 RGB tensor, refusing what is not a sound image."""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from ..errors import DatasetError, InputError, echo
from ..geometry import IMAGE_SIZE

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


def _to_rgb_array(image: Image.Image, peak: float | None = None) -> np.ndarray:
    """RGB float array in [0, 1] ``(H, W, 3)`` from any PIL mode; transparency over white. ``peak``: the white
    of an integer gray image (65535 for 16 bits; default: 65535 when a value exceeds 255, else 255)."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        array = np.asarray(image, dtype=np.float64)
        peak = peak or (65535.0 if image.mode.startswith("I;16") or array.max() > 255 else 255.0)
        gray = np.clip(array / peak, 0, 1)
        return np.repeat(gray[..., None], 3, axis=2)
    if image.mode == "F":
        gray = np.asarray(image, dtype=np.float64)
        lo, hi = float(gray.min()), float(gray.max())  # finite: load_image refuses NaN and infinities
        gray = np.zeros_like(gray) if hi <= lo else (gray - lo) / (hi - lo)
        return np.repeat(gray[..., None], 3, axis=2)
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    return np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0


REDUCIBLE_MODES = ("L", "LA", "RGB", "RGBA", "I", "F", "CMYK")  # the modes Image.reduce averages in
BAND_PIXELS = 1 << 22  # pixels of a band of rows converted at a time: a huge image is never converted whole


def _reducible_mode(mode: str) -> str:
    """The mode an image is converted to before ``Image.reduce``: its own where reduce works in it; 16-bit gray
    in 32-bit (not clipped to 8 bits); palette and other alpha modes in RGBA; 1-bit in L; the rest in RGB."""
    if mode in REDUCIBLE_MODES:
        return mode
    if mode.startswith("I;16"):
        return "I"
    if mode == "1":
        return "L"
    return "RGBA" if mode in ("P", "PA") or "A" in mode.upper() else "RGB"


def square_box(width: int, height: int, size: int) -> tuple[int, int, int, int]:
    """The centre square ``load_image`` keeps of a ``width`` x ``height`` image, as ``(left, top, side, factor)``:
    ``factor`` is the whole factor it is reduced by before resizing to ``size`` (below 2: not reduced)."""
    side = min(width, height)
    return (width - side) // 2, (height - side) // 2, side, side // (2 * size)


def _shrink(image: Image.Image, size: int) -> Image.Image:
    """The image's centre square, reduced by a whole factor to at least ``2 * size`` pixels a side in a mode
    near its own (uint8 for most), a band of rows at a time: no full-size converted or float copy is made."""
    left, top, side, factor = square_box(image.width, image.height, size)
    if factor < 2:
        return image.crop((left, top, left + side, top + side))
    mode = _reducible_mode(image.mode)
    if mode == image.mode:
        return image.reduce(factor, box=(left, top, left + side, top + side))  # crops and reduces in one pass
    rows = factor * max(1, BAND_PIXELS // (factor * side))  # whole blocks of rows: the same sums as in one pass
    reduced = Image.new(mode, (-(-side // factor),) * 2)
    for y in range(top, top + side, rows):
        band = image.crop((left, y, left + side, min(y + rows, top + side))).convert(mode)
        reduced.paste(band.reduce(factor), (0, (y - top) // factor))
    return reduced


def _count_nonfinite(image: Image.Image) -> int:
    """How many pixels of a float (mode F) image are NaN or infinite, counted a band of rows at a time; 0 for
    any other mode (integers are always finite)."""
    if image.mode != "F":
        return 0
    rows = max(1, BAND_PIXELS // image.width)
    bands = (image.crop((0, y, image.width, min(y + rows, image.height))) for y in range(0, image.height, rows))
    return sum(int(np.count_nonzero(~np.isfinite(np.asarray(band)))) for band in bands)


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


# EXIF orientation -> (x, y) of a point after ``ImageOps.exif_transpose``, from (x, y) and the size (w, h) before it
ORIENTED_POINTS = {
    1: lambda x, y, w, h: (x, y),
    2: lambda x, y, w, h: (w - x, y),
    3: lambda x, y, w, h: (w - x, h - y),
    4: lambda x, y, w, h: (x, h - y),
    5: lambda x, y, w, h: (y, x),
    6: lambda x, y, w, h: (h - y, x),
    7: lambda x, y, w, h: (h - y, w - x),
    8: lambda x, y, w, h: (y, w - x),
}


@dataclass(frozen=True)
class FrameGeometry:
    """Where ``load_image``'s ``size`` x ``size`` frame lies in a photo: the geometry it applied, for points.

    ``width`` x ``height``: the stored pixels; ``scale``: stored pixels per decoded one (a JPEG decoded at a
    reduced scale); ``orientation``: the EXIF orientation applied (1: none); ``box``: the kept centre square
    ``(left, top, side, factor)`` of the decoded, oriented image (``square_box``).
    """

    width: int
    height: int
    scale: float
    orientation: int
    box: tuple[int, int, int, int]
    size: int

    def to_frame(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Points in stored pixels (continuous, origin at the top left corner) -> their ``(x, y)`` in the frame
        and whether they lie in the kept square (1-d float arrays; a point outside it is not clamped)."""
        decoded_w, decoded_h = -(-self.width // self.scale), -(-self.height // self.scale)
        px, py = ORIENTED_POINTS[self.orientation](
            np.asarray(x, float) / self.scale, np.asarray(y, float) / self.scale, decoded_w, decoded_h
        )
        left, top, side, factor = self.box
        factor = max(factor, 1)
        pixels = self.size / -(-side // factor)  # frame pixels per reduced pixel
        sx, sy = px - left, py - top
        inside = (sx >= 0) & (sx < side) & (sy >= 0) & (sy < side)
        return sx / factor * pixels, sy / factor * pixels, inside


def load_image(file: str | os.PathLike | bytes | BinaryIO, size: int = IMAGE_SIZE) -> torch.Tensor:
    """Read an image file (path, bytes or file object) as float ``(3, size, size)`` in [0, 1] (see
    ``load_image_geometry``)."""
    return load_image_geometry(file, size)[0]


def load_image_geometry(
    file: str | os.PathLike | bytes | BinaryIO, size: int = IMAGE_SIZE
) -> tuple[torch.Tensor, FrameGeometry]:
    """Read an image file (path, bytes or file object) as float ``(3, size, size)`` in [0, 1], and where that
    frame lies in the photo (``FrameGeometry``).

    Applies the EXIF orientation; converts grayscale, 16-bit, palette, CMYK and
    transparent images (composited over white); centre-crops to a square and resizes
    with antialiasing, reducing a large image by a whole factor in its own 8- or 16-bit
    mode first (no full-size float copy). Raises ``InputError`` for a file that is not an
    image, is truncated, is too large (over 25 MB or 40 megapixels: a decompression bomb),
    or is a float image with NaN or infinite pixels.
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
            stored = image.size
            drafted = image.draft(image.mode, (2 * size, 2 * size))  # JPEG: decode at a reduced scale already
            image.load()
            nonfinite = _count_nonfinite(image)
            if nonfinite:
                raise InputError(
                    f"{name} has {nonfinite:,} pixels that are not numbers (NaN) or infinite: nothing can be shown "
                    "or measured there. Replace them (e.g. with 0) and save it again, or export an 8- or 16-bit image."
                )
            peak = 65535.0 if image.mode.startswith("I;16") else None  # reduced in 32-bit mode, still 16-bit data
            orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
            ImageOps.exif_transpose(image, in_place=True)  # in place: no copy unless it must turn
            scale = stored[0] / drafted[1][2] if drafted else 1.0
            geometry = FrameGeometry(*stored, scale, orientation if orientation in ORIENTED_POINTS else 1,
                                     square_box(image.width, image.height, size), size)  # fmt: skip
            array = _to_rgb_array(_shrink(image, size), peak)
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
    return square_crop_resize(array, size), geometry


def to_uint8_image(image: torch.Tensor) -> np.ndarray:
    """``(3, H, W)`` float in [0, 1] -> ``(H, W, 3)`` uint8 array (for PIL, PNG, display)."""
    return image.detach().clamp(0, 1).mul(255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
