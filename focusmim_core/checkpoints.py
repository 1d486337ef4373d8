"""Checkpoints: safetensors weights with JSON metadata; reference ``.pt`` state dicts imported safely.

Loading never executes code from a file: safetensors holds raw tensors only, and
PyTorch files are read with ``torch.load(weights_only=True)``, which refuses pickles
that would construct arbitrary objects.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import os
import pickle
import subprocess
import tempfile
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch.nn.modules.utils import consume_prefix_in_state_dict_if_present

from .errors import CheckpointError

__version__ = "0.1.0"
SHIPPED_DIR = Path(__file__).resolve().parents[1] / "checkpoints"
METADATA_KEY = "focusmim"
WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin")
RELATED_MODE = {"periphery_square": "periphery"}  # whose checkpoint a mode borrows when it has none
TRAINER_PREFIX = "trainer."  # optimizer, RNG and progress tensors in a run's last.safetensors


@functools.cache
def code_version() -> str:
    """Package version plus the git commit of this checkout when there is one (asked git once per process)."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{__version__}+{commit}" if commit else __version__


@dataclass
class CheckpointMetadata:
    """What a checkpoint is: how it was trained, on what, and what it scored."""

    mode: str = "none"
    ratio: float = 0.0
    fill: str = "mean"
    data: str = "unknown"
    epochs: int = 0
    learning_rate: float | None = None
    seed: int | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    code_version: str = field(default_factory=code_version)
    date: str = field(default_factory=lambda: _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"))
    fixation: str = "center"
    attention: str = "none"
    random_crop: bool = True
    foreground_loss: bool = False
    demo: bool = False
    source: str = "focusmim"
    description: str = ""
    arch: str = "cnn_mae"  # focusmim_core.architectures.ARCHITECTURES
    objective: str = "pixel"  # focusmim_core.objectives.OBJECTIVES
    save_id: str = ""  # new at every save, in the header and the JSON: tells a JSON left from older weights
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, values: Any) -> CheckpointMetadata:
        """Metadata from a JSON dict, every field's type checked; unknown keys are kept in ``extra``.

        Raises ``CheckpointError`` naming the field for a value of the wrong type (a string
        where a number belongs, a list for the metrics) or a mode or fill that does not exist.
        """
        check_metadata_values(values)
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in values.items() if k in known}
        extra = dict(kwargs.pop("extra", {}) or {})
        extra.update({k: v for k, v in values.items() if k not in known})
        return cls(**kwargs, extra=extra)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        return asdict(self)

    def title(self) -> str:
        """A short human label, e.g. ``periphery 0.8 (mean fill), 40 epochs``."""
        from .masking import MODES  # late: masking is heavier than this module

        spec = MODES.get(self.mode)
        ratio = f" {self.ratio:g}" if spec is not None and spec.uses_ratio else ""
        fill = " blurry" if self.fill == "blur" and spec is not None and spec.uses_fill else ""
        demo = " [demo]" if self.demo else ""
        arch = "" if self.arch == "cnn_mae" else f" ({self.arch})"
        arch += "" if self.objective == "pixel" else " [latent objective]"
        return f"{self.mode}{ratio}{fill}{arch}, {self.epochs} epochs on {self.data}{demo}"


FIELD_TYPES: dict[str, tuple[type, ...]] = {  # CheckpointMetadata's fields -> the JSON types they accept
    "mode": (str,), "ratio": (int, float), "fill": (str,), "data": (str,), "epochs": (int,),
    "learning_rate": (int, float, type(None)), "seed": (int, type(None)), "metrics": (dict,),
    "code_version": (str,), "date": (str,), "fixation": (str,), "attention": (str,), "random_crop": (bool,),
    "foreground_loss": (bool,), "demo": (bool,), "source": (str,), "description": (str,), "arch": (str,),
    "objective": (str,), "save_id": (str,),
    "extra": (dict, type(None)),
}  # fmt: skip


def check_metadata_values(values: Any) -> None:
    """Raise ``CheckpointError`` unless ``values`` is a dict whose known fields have the types ``FIELD_TYPES`` names."""
    if not isinstance(values, dict):
        raise CheckpointError(f"its metadata must be a JSON object, not {type(values).__name__}")
    for name, accepted in FIELD_TYPES.items():
        if name not in values:
            continue
        value = values[name]
        if (isinstance(value, bool) and bool not in accepted) or not isinstance(value, accepted):
            names = " or ".join("null" if t is type(None) else t.__name__ for t in accepted)
            raise CheckpointError(f"metadata field {name!r} must be {names}, not {type(value).__name__}")
    from .masking import FILLS, MODES  # late: masking is heavier than this module

    if values.get("mode", "none") not in MODES:
        raise CheckpointError(f"metadata field 'mode' is {str(values['mode'])[:40]!r}, not a known masking mode")
    if values.get("fill", "mean") not in FILLS:
        raise CheckpointError(f"metadata field 'fill' is {str(values['fill'])[:40]!r}, not mean or blur")
    if not 0 <= values.get("ratio", 0.0) <= 1:
        raise CheckpointError("metadata field 'ratio' must lie between 0 and 1")
    from .architectures import ARCHITECTURES

    if values.get("arch", "cnn_mae") not in ARCHITECTURES:
        raise CheckpointError(f"metadata field 'arch' is {str(values['arch'])[:40]!r}, not a known architecture")
    from .objectives import OBJECTIVES

    if values.get("objective", "pixel") not in OBJECTIVES:
        raise CheckpointError(f"metadata field 'objective' is {str(values['objective'])[:40]!r}, not a known objective")


def sidecar_path(path: str | os.PathLike) -> Path:
    """The JSON metadata file beside a weights file (``best.safetensors`` -> ``best.json``)."""
    return Path(path).with_suffix(".json")


def atomic_write(path: Path, write: Callable[[str], object]) -> None:
    """Call ``write(tmp_path)`` then move the file into place: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes owner-only files; give them the usual permissions
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_json(path: str | os.PathLike, values: dict[str, Any]) -> None:
    """Write JSON atomically (a crash never leaves half a file)."""

    def write(tmp: str) -> None:
        with open(tmp, "w") as handle:
            json.dump(values, handle, indent=2, sort_keys=True)
            handle.write("\n")

    atomic_write(Path(path), write)


def save_checkpoint(
    path: str | os.PathLike,
    model: torch.nn.Module,
    metadata: CheckpointMetadata | dict[str, Any],
    dtype: torch.dtype | None = None,
) -> Path:
    """Save ``model``'s weights as safetensors at ``path`` and its metadata as JSON beside it.

    The metadata is also embedded in the safetensors header, so the weights file alone
    is self-describing. ``dtype`` (e.g. ``torch.float16``) stores smaller files; loading
    converts back to float32. Both files are written atomically. Returns the weights path.
    """
    path = Path(path)
    if path.suffix != ".safetensors":
        path = path.with_suffix(".safetensors")
    meta = metadata if isinstance(metadata, CheckpointMetadata) else CheckpointMetadata.from_dict(metadata)
    meta.save_id = uuid.uuid4().hex  # in place: a caller that writes its metadata again keeps the pairing
    module = getattr(model, "module", model)
    tensors = {
        name: (t.detach().to(dtype) if dtype is not None else t.detach()).contiguous().cpu()
        for name, t in module.state_dict().items()
    }
    meta_json = json.dumps(meta.to_dict(), sort_keys=True)
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata={METADATA_KEY: meta_json}))
    write_json(sidecar_path(path), meta.to_dict())
    return path


def _clean_state_dict(raw: Any, path: Path) -> dict[str, torch.Tensor]:
    state = raw
    if isinstance(state, dict):
        for key in ("state_dict", "model", "model_state_dict"):
            if key in state and isinstance(state[key], dict):
                state = state[key]
                break
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(
            f"{path.name} holds no state dict of tensors: save the model with "
            "torch.save(model.state_dict(), path) or use a FocusMIM .safetensors checkpoint."
        )
    cleaned = dict(state)
    for prefix in ("module.", "_orig_mod."):  # DDP, then torch.compile wrappers
        consume_prefix_in_state_dict_if_present(cleaned, prefix)
    return cleaned


def first_sentence(error: BaseException, limit: int = 160) -> str:
    """The first sentence of a library's error message (never cut mid-word), for a message of ours."""
    text = " ".join(str(error).split())
    end = text.find(". ")
    text = text if end < 0 else text[: end + 1]
    if len(text) > limit:
        text = text[: text.rfind(" ", 0, limit - 1)].rstrip(",;:") + " …"
    return text.rstrip(".")


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Raw tensors of a checkpoint file (safetensors or PyTorch), never executing code from it."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"No checkpoint at {path}: check the path, or train one with python -m train.pretrain.")
    if path.suffix == ".safetensors":
        try:
            tensors = load_file(str(path))
            return {name: t for name, t in tensors.items() if not name.startswith(TRAINER_PREFIX)}
        except (SafetensorError, OSError, ValueError) as error:
            raise CheckpointError(
                f"{path.name} is not a readable safetensors file (truncated or damaged: {error}). "
                "Copy or download it again, or pick another checkpoint."
            ) from None
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise CheckpointError(
            f"Refused to load {path.name}: it contains Python objects that would run code when "
            f"unpickled, not plain tensors ({first_sentence(error)}). Only load checkpoints "
            "you trust with other tools; FocusMIM reads weights only."
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as error:
        raise CheckpointError(
            f"{path.name} is not a readable PyTorch checkpoint (truncated or damaged: "
            f"{first_sentence(error)}). Copy or download it again."
        ) from None
    return _clean_state_dict(raw, path)


def check_architecture(
    state: dict[str, torch.Tensor], path: Path, model: torch.nn.Module, label: str = "the CNN autoencoder"
) -> None:
    """Raise ``CheckpointError`` unless ``state`` has exactly the model's parameter names and shapes."""
    expected = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    missing = [name for name in expected if name not in state]
    unexpected = [name for name in state if name not in expected]
    wrong = [
        f"{name} {tuple(state[name].shape)} (expected {shape})"
        for name, shape in expected.items()
        if name in state and tuple(state[name].shape) != shape
    ]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {', '.join(unexpected[:3])})")
        if wrong:
            parts.append(f"{len(wrong)} of the wrong shape (e.g. {'; '.join(wrong[:2])})")
        raise CheckpointError(
            f"{path.name} is not a checkpoint of {label}: parameters "
            + ", ".join(parts)
            + ". Pick a FocusMIM or reference FocusMIM checkpoint."
        )


def read_metadata(path: str | os.PathLike) -> CheckpointMetadata:
    """Metadata of a checkpoint: the JSON beside it, else the safetensors header, else a stub.

    A JSON whose ``save_id`` is not the header's belongs to weights that were replaced (a crash
    between writing the weights and the JSON): the header, written with the weights, wins.
    """
    path = Path(path)
    side = sidecar_path(path)
    header = _header_metadata(path)
    if side.is_file():
        try:
            beside = CheckpointMetadata.from_dict(json.loads(side.read_text()))
        except (json.JSONDecodeError, UnicodeDecodeError, TypeError, CheckpointError) as error:
            raise CheckpointError(f"{side.name} is not valid checkpoint metadata: {str(error)[:200]}.") from None
        return header if header is not None and header.save_id and header.save_id != beside.save_id else beside
    if header is not None:
        return header
    return CheckpointMetadata(
        source="reference" if path.suffix != ".safetensors" else "unknown",
        description=f"imported from {path.name}; no metadata",
        code_version="",
    )


def _header_metadata(path: Path) -> CheckpointMetadata | None:
    """The metadata in a safetensors file's header (None: not safetensors, unreadable or none there)."""
    if path.suffix != ".safetensors" or not path.is_file():
        return None
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as handle:
            header = (handle.metadata() or {}).get(METADATA_KEY)
        return CheckpointMetadata.from_dict(json.loads(header)) if header else None
    except (SafetensorError, OSError, json.JSONDecodeError, CheckpointError):
        return None


def load_checkpoint(
    path: str | os.PathLike, device: torch.device | str = "cpu"
) -> tuple[torch.nn.Module, CheckpointMetadata]:
    """Load a checkpoint into a fresh model of its metadata's ``arch`` in eval mode, with its metadata.

    Accepts FocusMIM ``.safetensors`` files and reference ``.pt`` state dicts (also
    ``{"state_dict": ...}`` wrappers and DDP/compiled prefixes; no metadata means the paper's
    CNN, loaded strictly). Raises ``CheckpointError`` for a missing, truncated or unsafe file,
    or one whose parameters are not those of its architecture.
    """
    from .architectures import get_architecture
    from .objectives import get_objective

    path = Path(path)
    state = read_state_dict(path)
    metadata = read_metadata(path)
    arch = get_architecture(metadata.arch)
    model = get_objective(metadata.objective).wrap(arch.build())
    label = arch.label if metadata.objective == "pixel" else f"{arch.label} trained on latents"
    check_architecture(state, path, model, f"the {label}")
    model.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    return model.to(device).eval(), metadata


@dataclass(frozen=True)
class CheckpointInfo:
    """A checkpoint file found on disk and its metadata."""

    path: Path
    metadata: CheckpointMetadata
    error: str | None = None  # why its metadata could not be read: listed apart, never chosen or compared

    @property
    def described(self) -> bool:
        """Whether the file describes itself (readable FocusMIM metadata): only those are chosen automatically."""
        return self.error is None and self.metadata.source != "unknown" and bool(self.metadata.code_version)

    @property
    def name(self) -> str:
        """File name (without ``.safetensors``, other suffixes kept: ``x`` and ``x.pt`` are two files),
        prefixed by its folder when not a shipped one."""
        stem = self.path.stem if self.path.suffix == ".safetensors" else self.path.name
        return stem if self.path.parent == SHIPPED_DIR else f"{self.path.parent.name}/{stem}"


def list_checkpoints(*folders: str | os.PathLike) -> list[CheckpointInfo]:
    """Every weights file in these folders (default: the shipped ``checkpoints/``), one level deep.

    Files whose metadata cannot be read are listed with a stub and their ``error``, never dropped.
    """
    found = []
    for folder in folders or (SHIPPED_DIR,):
        folder = Path(folder)
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*")) + sorted(folder.glob("*/*")):
            if path.suffix in WEIGHT_SUFFIXES and path.is_file() and not path.name.startswith("."):
                try:
                    metadata = read_metadata(path)
                except CheckpointError as error:
                    found.append(CheckpointInfo(path, CheckpointMetadata(code_version=""), str(error)))
                    continue
                found.append(CheckpointInfo(path, metadata))
    return found


def default_checkpoint(
    mode: str, fill: str = "mean", checkpoints: list[CheckpointInfo] | None = None
) -> CheckpointInfo | None:
    """The checkpoint trained for ``mode`` (and ``fill``): pixel objective first, then exact fill, best metadata.

    A mode without a checkpoint of its own borrows its nearest relative's
    (``periphery_square`` -> ``periphery``); ``None`` when nothing fits.
    """
    available = [c for c in (checkpoints if checkpoints is not None else list_checkpoints()) if c.described]
    candidates = [c for c in available if c.metadata.mode == mode]
    if not candidates and mode in RELATED_MODE:
        candidates = [c for c in available if c.metadata.mode == RELATED_MODE[mode]]
    if not candidates:
        return None
    candidates.sort(  # pixels first: a latent-objective checkpoint has no reconstruction to show
        key=lambda c: (c.metadata.objective != "pixel", c.metadata.fill != fill, c.metadata.demo, -c.metadata.epochs)
    )
    return candidates[0]
