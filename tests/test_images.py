"""Loading a user's image: every common format becomes a 96 x 96 RGB tensor; bad files get a message."""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from processes import failure_report

from focusmim_core import InputError, load_image
from focusmim_core.data.images import MAX_UPLOAD_BYTES


def encode(image: Image.Image, fmt: str = "PNG", **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def half_red_half_blue(width: int = 200, height: int = 100) -> Image.Image:
    array = np.zeros((height, width, 3), dtype=np.uint8)
    array[:, : width // 2] = (255, 0, 0)
    array[:, width // 2 :] = (0, 0, 255)
    return Image.fromarray(array)


def test_rgb_png_is_centre_cropped_and_resized(tmp_path):
    path = tmp_path / "photo.png"
    half_red_half_blue(300, 100).save(path)
    image = load_image(path)
    assert image.shape == (3, 96, 96) and image.dtype == torch.float32
    assert image[0, 48, 5] > 0.95 and image[2, 48, 90] > 0.95  # left red, right blue


def test_bytes_and_file_objects_work_too():
    data = encode(half_red_half_blue())
    assert torch.equal(load_image(data), load_image(io.BytesIO(data)))


def test_exif_orientation_is_applied():
    image = half_red_half_blue(200, 200)
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when displayed
    loaded = load_image(encode(image, "JPEG", exif=exif, quality=95))
    assert loaded[0, 5, 48] > 0.8 and loaded[2, 90, 48] > 0.8  # red on top after rotation


def test_grayscale_palette_sixteen_bit_and_cmyk():
    gray = Image.fromarray(np.full((50, 50), 128, dtype=np.uint8), "L")
    assert torch.allclose(load_image(encode(gray)), torch.full((3, 96, 96), 128 / 255), atol=1e-3)
    palette = half_red_half_blue().convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    assert load_image(encode(palette))[0, 48, 5] > 0.95
    deep = Image.fromarray(np.full((40, 40), 65535 // 4, dtype=np.uint16))
    assert torch.allclose(load_image(encode(deep)), torch.full((3, 96, 96), 0.25), atol=1e-3)
    cmyk = half_red_half_blue().convert("CMYK")
    loaded = load_image(encode(cmyk, "JPEG", quality=95))
    assert loaded[0, 48, 5] > 0.85 and loaded[2, 48, 90] > 0.85


def test_transparency_is_composited_over_white():
    rgba = np.zeros((64, 64, 4), dtype=np.uint8)
    rgba[..., 0] = 255
    rgba[:, :32, 3] = 255  # left half opaque red, right half fully transparent
    loaded = load_image(encode(Image.fromarray(rgba, "RGBA")))
    assert torch.allclose(loaded[:, 48, 5], torch.tensor([1.0, 0.0, 0.0]), atol=1e-3)
    assert torch.allclose(loaded[:, 48, 90], torch.ones(3), atol=1e-3)


def png_declaring(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 16))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"this is a text file, not a picture", "not an image"),
        (b"%PDF-1.4 fake", "not an image"),
        (png_declaring(60000, 60000), "megapixels|decompression bomb"),
        (encode(Image.new("RGB", (4, 4))), "at least 8 x 8"),
    ],
)
def test_bad_files_get_a_message(data, message):
    with pytest.raises(InputError, match=message):
        load_image(data)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_files_get_a_message(fmt):
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, (300, 300, 3), dtype=np.uint8))
    data = encode(noise, fmt)
    with pytest.raises(InputError, match="truncated or damaged|not an image"):
        load_image(data[: len(data) // 2])


def test_oversized_uploads_and_missing_paths(tmp_path):
    with pytest.raises(InputError, match="larger than 25 MB"):
        load_image(io.BytesIO(b"\x00" * (MAX_UPLOAD_BYTES + 10)))
    big = tmp_path / "big.png"
    big.write_bytes(b"\x00" * (MAX_UPLOAD_BYTES + 10))
    with pytest.raises(InputError, match="accepted"):
        load_image(big)
    with pytest.raises(InputError, match="No image file"):
        load_image(tmp_path / "missing.png")


def test_a_crafted_upload_name_is_quoted_not_rendered():
    class Upload(io.BytesIO):
        name = "[click me](https://evil.example) ![](https://evil.example/p.png)"

    with pytest.raises(InputError) as raised:
        load_image(Upload(b"not an image at all"))
    message = str(raised.value)
    assert message.startswith("`") and "](" not in message.split("`")[-1]
    assert message.count("`") == 2 and len(message.split("`")[1]) <= 40


HELD_BYTES = {"L": 1, "P": 1, "I;16": 2, "RGB": 4}  # bytes a pixel takes in Pillow once decoded


@pytest.mark.parametrize(
    ("mode", "background", "square"),
    [("L", 128, 20), ("RGB", (90, 140, 200), (250, 10, 10)), ("P", 128, 20), ("I;16", 16000, 48000)],
)
def test_a_huge_but_legal_upload_is_reduced_without_any_full_size_copy(tmp_path, mode, background, square):
    """A few-hundred-KB PNG of 6300 x 6300 pixels: loading it costs the decoded picture and a few bands of rows,
    no full-size converted, turned or float copy; 16-bit gray keeps its level (it was clipped to white)."""
    side = 6300
    image = Image.new(mode, (side, side), background)
    image.paste(Image.new(mode, (side // 3, side // 3), square), (side // 3, side // 3))
    if mode == "P":
        image.putpalette([value for index in range(256) for value in (index, 255 - index, 128)])
    path = tmp_path / "huge.png"
    image.save(path, optimize=False)
    small = load_image(encode(image.resize((96, 96), Image.Resampling.BOX)))  # the same picture, loaded small
    del image
    script = (
        "import sys\n"
        "from focusmim_core import load_image\n"
        "def status(key):\n"
        "    return int(next(line for line in open('/proc/self/status') if line.startswith(key)).split()[1])\n"
        "open('/proc/self/clear_refs', 'w').write('5')\n"  # the high-water mark restarts from now, past the imports
        "before = status('VmRSS:')\n"
        "out = load_image(sys.argv[1])\n"
        "print((status('VmHWM:') - before) // 1024)\n"
        "print(' '.join(str(float(v)) for v in out.flatten()))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    command = [sys.executable, "-c", script, str(path)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, failure_report(done)
    grown_mb, values = done.stdout.strip().splitlines()
    decoded_mb = side * side * HELD_BYTES[mode] / 2**20
    assert int(grown_mb) < decoded_mb + 64, f"loading grew the process by {grown_mb} MB ({decoded_mb:.0f} MB decoded)"
    out = torch.tensor([float(v) for v in values.split()]).reshape(3, 96, 96)
    assert (out[:, 48, 48] - out[:, 2, 2]).abs().max() > 0.05  # the centre square survived
    assert torch.allclose(out[:, 2, 2], small[:, 2, 2], atol=2 / 255)  # and the colours are the picture's


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize("side", [64, 1000])  # loaded whole, or reduced first
def test_a_float_image_with_non_finite_pixels_is_refused_saying_why(bad, side):
    gray = np.linspace(0, 1, side * side, dtype=np.float32).reshape(side, side)
    gray[side // 2, side // 3 : side // 3 + 3] = bad
    with pytest.raises(InputError, match=r"has 3 pixels that are not numbers \(NaN\) or infinite.*Replace them"):
        load_image(encode(Image.fromarray(gray, "F"), "TIFF"))
    gray[side // 2, side // 3 : side // 3 + 3] = 0.5
    loaded = load_image(encode(Image.fromarray(gray, "F"), "TIFF"))  # the same picture, finite, loads
    assert torch.isfinite(loaded).all() and loaded[:, 2, 2].max() < loaded[:, 90, 90].min()


def smooth_photo(width: int = 1600, height: int = 1200) -> Image.Image:
    """A smooth colour picture (random colours interpolated), large enough to be reduced before resizing."""
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)).resize((width, height))


def test_a_large_photo_reduced_first_matches_the_full_resolution_result():
    """Reducing by a whole factor before the float conversion changes a smooth photo by a few 1/255 at most,
    and by well under 1/255 on average."""
    from focusmim_core.data.images import _to_rgb_array, square_crop_resize

    photo = smooth_photo()
    difference = (load_image(encode(photo)) - square_crop_resize(_to_rgb_array(photo))).abs()
    assert difference.max() <= 3 / 255 and difference.mean() <= 0.5 / 255


@pytest.mark.parametrize(("mode", "whole"), [("P", "RGBA"), ("1", "L")])
def test_a_large_image_converted_in_bands_matches_it_converted_whole(mode, whole):
    photo = smooth_photo().convert("RGBA")
    photo = photo.quantize(64) if mode == "P" else photo.convert(mode)
    banded = load_image(encode(photo))
    assert torch.allclose(banded, load_image(encode(photo.convert(whole))), atol=1e-6)
