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
import types
import typing
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
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


NUMBER = (int, float)  # a JSON number; a bool is never one
MAX_METADATA_BYTES = 1 << 20  # a sidecar JSON or weights header with more metadata than this is refused unread
MAX_METADATA_DEPTH = 16  # nesting of JSON objects and lists in metadata (the shipped files reach 5)


@dataclass(frozen=True)
class ListOf:
    """Schema of a JSON list whose items all follow ``item``."""

    item: Any


@dataclass(frozen=True)
class ValuesOf:
    """Schema of a JSON object whose values, under any keys, all follow ``value``."""

    value: Any


@dataclass(frozen=True)
class Nullable:
    """Schema of a value that is null or follows ``inner``."""

    inner: Any


def _annotation_schema(annotation: Any) -> Any:
    """The schema of a dataclass field's type: ``float`` accepts any JSON number, ``X | None`` null too,
    ``list[X]`` a list of X; anything else (``dict[str, Any]``, ``Any``) its outer type alone."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        inner = _annotation_schema(next(a for a in args if a is not type(None)))
        if type(None) not in args:
            return inner
        return (*inner, type(None)) if isinstance(inner, tuple) else Nullable(inner)
    if origin is list:
        return ListOf(_annotation_schema(args[0]))
    if annotation is float:
        return NUMBER
    outer = origin or annotation
    return (outer,) if isinstance(outer, type) else (object,)


def _record_schema(record: type) -> dict[str, Any]:
    """The schema of a dataclass written as a JSON object: each field's type (``_annotation_schema``)."""
    return {name: _annotation_schema(kind) for name, kind in typing.get_type_hints(record).items()}


@functools.cache
def metadata_schema() -> dict[str, Any]:
    """The metadata's JSON schema, nested records included: a dict names an object's fields (other keys: any
    JSON), a tuple the accepted types; ``ListOf``, ``ValuesOf``, ``Nullable``. Records follow their classes."""
    from .evaluation import LATENT_KEY, METRICS_KEY, ReconstructionReport  # late: both import this module
    from .probe import ProbeResult

    probe = {**_record_schema(ProbeResult), "accuracy_mean": NUMBER, "accuracy_std": NUMBER}  # its properties
    history_entry = {"images": (int,), "minutes": NUMBER, "date": (str,), "device": (str,), "recipe": (str,),
                     "command": (str,)}  # fmt: skip  # train.ship_demo's history_entry; its after_* are metrics
    metrics = {"probe": probe, "probe_runs": ValuesOf(probe), METRICS_KEY: _record_schema(ReconstructionReport),
               LATENT_KEY: ValuesOf(Nullable(NUMBER))}  # fmt: skip
    extra = {"images_seen": (int,), "train_seconds": NUMBER, "epochs_run": (int,), "batch_size": (int,),
             "device": (str,), "command": (str,), "history": ListOf(history_entry)}  # fmt: skip
    return {**_record_schema(CheckpointMetadata), "metrics": metrics, "extra": Nullable(extra)}


def _json_type(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _field(where: str) -> str:
    return f"field {where!r}" if where else "the value"


def schema_problem(value: Any, schema: Any, where: str = "") -> str | None:
    """Why JSON ``value`` does not follow ``schema`` (see ``metadata_schema``), naming the field; None when it does.
    An object's fields that ``schema`` names are checked where present; other fields may hold anything."""
    if isinstance(schema, Nullable):
        return None if value is None else schema_problem(value, schema.inner, where)
    if isinstance(schema, tuple):
        if (isinstance(value, bool) and bool not in schema) or not isinstance(value, schema):
            names = " or ".join("null" if t is type(None) else t.__name__ for t in schema)
            return f"{_field(where)} must be {names}, not {_json_type(value)}"
        return None
    outer = list if isinstance(schema, ListOf) else dict
    if not isinstance(value, outer):
        return f"{_field(where)} must be {outer.__name__}, not {_json_type(value)}"
    if isinstance(schema, ListOf):
        parts = ((f"{where}[{i}]", item, schema.item) for i, item in enumerate(value))
    elif isinstance(schema, ValuesOf):
        parts = ((f"{where}.{str(key)[:40]}", item, schema.value) for key, item in value.items())
    else:
        parts = ((f"{where}.{key}".lstrip("."), value[key], part) for key, part in schema.items() if key in value)
    return next((problem for name, item, part in parts if (problem := schema_problem(item, part, name))), None)


def json_problem(values: Any, schema: dict[str, Any], required: tuple[str, ...] = ()) -> str | None:
    """Why decoded JSON is not an object of ``schema`` with every ``required`` field; None when it is."""
    if not isinstance(values, dict):
        return f"a JSON object is expected, not {type(values).__name__}"
    missing = [name for name in required if name not in values]
    return f"it has no {', '.join(missing)}" if missing else schema_problem(values, schema)


def nesting_depth(value: Any, limit: int = MAX_METADATA_DEPTH) -> int:
    """How deeply JSON lists and objects nest in ``value`` (0 for a scalar), walked without recursion and
    no further than one level past ``limit``."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if depth <= limit:
                stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def check_metadata_values(values: Any) -> None:
    """Raise ``CheckpointError`` unless ``values`` is a metadata object no deeper than ``MAX_METADATA_DEPTH``
    that follows ``metadata_schema`` (nested records included), with known modes, fills and architectures."""
    if not isinstance(values, dict):
        raise CheckpointError(f"its metadata must be a JSON object, not {type(values).__name__}")
    if nesting_depth(values) > MAX_METADATA_DEPTH:
        raise CheckpointError(f"its metadata nests lists and objects deeper than {MAX_METADATA_DEPTH} levels")
    problem = schema_problem(values, metadata_schema())
    if problem:
        raise CheckpointError(problem)
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
    """The first sentence of a library's error message (never cut mid-word), for a message of ours;
    the error's type where the message is empty or a bare key (``KeyError: 101``)."""
    text = " ".join(str(error).split())
    end = text.find(". ")
    text = text if end < 0 else text[: end + 1]
    if len(text) > limit:
        text = text[: text.rfind(" ", 0, limit - 1)].rstrip(",;:") + " …"
    if len(text) < 8 or isinstance(error, LookupError):
        text = f"{type(error).__name__} {text}".strip()
    return text.rstrip(".")


def unreadable_safetensors(path: Path, error: BaseException) -> CheckpointError:
    """The refusal of a safetensors file that its reader could not open or read."""
    return CheckpointError(
        f"{path.name} is not a readable safetensors file (truncated or damaged: {first_sentence(error)}). "
        "Copy or download it again, or pick another checkpoint."
    )


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Raw tensors of a checkpoint file (safetensors or PyTorch), never executing code from it.

    Whatever reading a damaged or foreign file raises becomes a ``CheckpointError`` naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"No checkpoint at {path}: check the path, or train one with python -m train.pretrain.")
    if path.suffix == ".safetensors":
        try:
            tensors = load_file(str(path))
        except Exception as error:  # a damaged file can make the reader raise anything
            raise unreadable_safetensors(path, error) from None
        return {name: t for name, t in tensors.items() if not name.startswith(TRAINER_PREFIX)}
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise CheckpointError(
            f"Refused to load {path.name}: it holds more than plain tensors (Python objects that would run code "
            f"when unpickled, or damaged data: {first_sentence(error)}). Only load checkpoints you trust with "
            "other tools; FocusMIM reads weights only."
        ) from None
    except Exception as error:  # the safe unpickler raises KeyError, IndexError... on a text file
        raise CheckpointError(
            f"{path.name} is not a readable PyTorch checkpoint (truncated or damaged, or no checkpoint at all: "
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


def bounded_json(text: str | bytes, limit: int = MAX_METADATA_BYTES, depth: int = MAX_METADATA_DEPTH) -> Any:
    """JSON ``text`` decoded; ``ValueError`` saying why when it is larger than ``limit`` bytes, not JSON (not UTF-8,
    an integer of too many digits) or nests lists and objects deeper than ``depth`` levels."""
    if len(text) > limit:
        raise ValueError(f"it is larger than the {limit:,} bytes read")
    too_deep = f"it nests lists and objects deeper than {depth} levels"
    try:
        values = json.loads(text)
    except RecursionError:  # the decoder's own recursion: nested far deeper than ``depth``
        raise ValueError(too_deep) from None
    except ValueError as error:
        raise ValueError(first_sentence(error)) from None
    if nesting_depth(values, depth) > depth:
        raise ValueError(too_deep)
    return values


def parse_metadata(text: str | bytes, origin: str) -> CheckpointMetadata:
    """Metadata from JSON text (a sidecar file's or a weights header's); ``CheckpointError`` naming ``origin``
    when it is larger than ``MAX_METADATA_BYTES``, not JSON, nested too deeply or off ``metadata_schema``."""

    def refused(problem: str) -> CheckpointError:
        return CheckpointError(f"{origin} is not valid checkpoint metadata: {problem}.")

    try:
        values = bounded_json(text)
    except ValueError as error:
        raise refused(str(error)) from None
    try:
        return CheckpointMetadata.from_dict(values)
    except CheckpointError as error:
        raise refused(str(error)[:200]) from None


def read_metadata(path: str | os.PathLike) -> CheckpointMetadata:
    """Metadata of a checkpoint: the JSON beside it, else the safetensors header, else a stub.

    A JSON whose ``save_id`` is not the header's belongs to weights that were replaced (a crash
    between writing the weights and the JSON): the header, written with the weights, wins.
    Raises ``CheckpointError`` for metadata that cannot be read or is not valid, and for a
    safetensors file whose header cannot be read (truncated or damaged).
    """
    path = Path(path)
    side = sidecar_path(path)
    beside = None
    if side.is_file():
        try:
            with open(side, "rb") as handle:
                text = handle.read(MAX_METADATA_BYTES + 1)
        except OSError as error:
            raise CheckpointError(f"{side.name} could not be read: {first_sentence(error)}.") from None
        beside = parse_metadata(text, side.name)
    header = _header_metadata(path)
    if beside is not None:
        return header if header is not None and header.save_id and header.save_id != beside.save_id else beside
    if header is not None:
        return header
    return CheckpointMetadata(
        source="reference" if path.suffix != ".safetensors" else "unknown",
        description=f"imported from {path.name}; no metadata",
        code_version="",
    )


def _header_metadata(path: Path) -> CheckpointMetadata | None:
    """The metadata in a safetensors file's header (None: not safetensors or none there); opening the file
    checks that its header is whole and that its tensors fill the file, so a cut file raises ``CheckpointError``."""
    if path.suffix != ".safetensors" or not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="pt") as handle:
            header = (handle.metadata() or {}).get(METADATA_KEY)
    except Exception as error:  # a damaged file can make the reader raise anything
        raise unreadable_safetensors(path, error) from None
    return parse_metadata(header, f"the header of {path.name}") if header else None


@functools.lru_cache(maxsize=64)
def _pytorch_problem(path: str, size: int, modified_ns: int) -> str | None:
    """Why a PyTorch weights file cannot be read (None: it can), once per version of the file (``size``,
    ``modified_ns``): listing runs on every render, and only a full read tells a sound pickle from a damaged one."""
    try:
        read_state_dict(path)
    except CheckpointError as error:
        return str(error)
    return None


def readable_metadata(path: str | os.PathLike) -> CheckpointMetadata:
    """``read_metadata`` of a weights file that can be read; ``CheckpointError`` otherwise (reading the
    metadata checks a safetensors file; a PyTorch file is read whole, once per version)."""
    path = Path(path)
    metadata = read_metadata(path)
    if path.suffix != ".safetensors":
        stat = path.stat()
        problem = _pytorch_problem(str(path), stat.st_size, stat.st_mtime_ns)
        if problem:
            raise CheckpointError(problem)
    return metadata


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

    Files whose weights or metadata cannot be read (``readable_metadata``) are listed with a stub and their
    ``error``, never dropped: a cut file never wins ``default_checkpoint`` on the epochs its JSON claims.
    """
    found = []
    for folder in folders or (SHIPPED_DIR,):
        folder = Path(folder)
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*")) + sorted(folder.glob("*/*")):
            if path.suffix in WEIGHT_SUFFIXES and path.is_file() and not path.name.startswith("."):
                try:
                    found.append(CheckpointInfo(path, readable_metadata(path)))
                except CheckpointError as error:
                    found.append(CheckpointInfo(path, CheckpointMetadata(code_version=""), str(error)))
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
