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


@pytest.mark.parametrize("mode", ["L", "RGB", "P"])
def test_a_huge_but_legal_upload_is_reduced_before_any_float_copy(tmp_path, mode):
    """A few-hundred-KB PNG of 6300 x 6300 pixels: peak memory of loading it stays far below a float64 copy."""
    side = 6300
    image = Image.new(mode, (side, side), 128 if mode != "RGB" else (90, 140, 200))
    image.paste(Image.new(mode, (side // 3, side // 3), 20 if mode != "RGB" else (250, 10, 10)), (side // 3, side // 3))
    if mode == "P":
        image.putpalette([value for index in range(256) for value in (index, 255 - index, 128)])
    path = tmp_path / "huge.png"
    image.save(path, optimize=False)
    del image
    script = (
        "import resource, sys\n"
        "from focusmim_core import load_image\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "out = load_image(sys.argv[1])\n"
        "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print((after - before) // 1024, tuple(out.shape), float((out[:, 48, 48] - out[:, 2, 2]).abs().max()))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    command = [sys.executable, "-c", script, str(path)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, failure_report(done)
    grown_mb, rest = done.stdout.strip().split(" ", 1)
    assert int(grown_mb) < 200, f"loading grew the process by {grown_mb} MB"  # a float64 copy alone is 950 MB
    assert rest.startswith("(3, 96, 96)") and float(rest.rsplit(" ", 1)[1]) > 0.05  # the centre square survived
