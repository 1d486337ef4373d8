"""The table of named experiments: every training condition the project runs, ships or compares with.

API:

- ``CONDITIONS``: ``dict[str, Condition]`` keyed by id, in table order (the order of the demos,
  the grids and the paper's numbers as they are shown).
- ``Condition``: ``name`` (the id: a shipped checkpoint's file name, a grid cell's prefix),
  ``label`` (as tables show it), ``mode``, ``ratio``, ``fill``, ``fixation``, ``attention``,
  ``foreground_loss``, ``objective``, ``arch``, ``random_crop``, ``learning_rate`` (Adam at the
  paper's batch of 512; ``None``: the objective's or architecture's own), ``kind`` (``PRETRAIN``,
  ``PROBE_ONLY`` for the raw pixels, ``REFERENCE`` for numbers only the paper measured),
  ``paper`` (``Paper(label, accuracy)``: its Fig. 4 entry, or ``None``), ``grids`` (the
  experiment grids of ``python -m train.grid`` that run it) and ``demo`` (``Demo``: how it
  ships as a CPU-trained demo checkpoint, or ``None``). ``Condition.pretrain_settings()`` gives
  the ``train.pretrain`` fields it sets.
- ``Demo``: ``learning_rate`` (the CPU demo's own rate where it differs from
  ``DEMO_LEARNING_RATE``), ``fixation``, ``dataset``, ``size``, ``max_megabytes``.
- ``DEMO_LEARNING_RATE``: Adam's rate for a CPU demo without its own.
- ``PAPER_CONVNEXT_RATES``: the three rates paper 3.5 chose among.
- ``demos()``, ``paper_conditions()``, ``grid_conditions(grid)``: views of the table.
- ``paper_condition(mode, fill, random_crop, objective, arch)``: the paper's entry for a
  checkpoint's training setup (or ``None``); ``paper_accuracy(...)`` its accuracy;
  ``paper_accuracy_of(key)`` by condition id.
- Probe results on disk (grid folders, the random-init baseline, ``probe_spread``) are in
  ``focusmim_core.results``; ``train.demos.DEMOS`` views the entries that have a ``demo``.
- ``TRAINER_DEFAULT``: the condition ``train.pretrain`` trains without options, at
  ``TRAINER_DEFAULT_RATE`` (the reference code's default: its README's rate for the periphery).

Adding a condition is one entry in ``CONDITIONS``: tagged with a grid it becomes that grid's
cells, with a ``paper`` number it shows beside our measurements (the Checkpoints page, grid
reports, the shipped checkpoints' table), with a ``demo`` it is trained and shipped by
``python -m train.ship_demo``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from .masking import MODES

PRETRAIN, PROBE_ONLY, REFERENCE = "pretrain", "probe_only", "reference"
DEMO_LEARNING_RATE = 2e-3  # Adam at the CPU demos' batch, for a demo without its own rate
PAPER_CONVNEXT_RATES = (1.6e-4, 5e-4, 1.5e-3)  # paper 3.5 chose among them and does not say which it reported
PERIPHERY_RATE, OTHER_RATE = 1e-3, 5e-3  # the reference README's rates at batch 512: periphery, everything else


@dataclass(frozen=True)
class Paper:
    """The paper's result for a condition: its label in Fig. 4 and the STL-10 linear-probe accuracy (%)."""

    label: str
    accuracy: float


@dataclass(frozen=True, kw_only=True)
class Demo:
    """How a condition ships as a small CPU-trained demo checkpoint (``python -m train.ship_demo``)."""

    learning_rate: float | None = None  # the demo's own rate at its CPU batch (None: DEMO_LEARNING_RATE)
    fixation: str | None = None  # where the demo's eye looks in training (None: the condition's)
    dataset: str | None = None  # offline training data (train.training_data; None: the shipping tool's default)
    size: int | None = None  # training images (None: the shipping tool's default)
    max_megabytes: float = 6.0  # the shipped file's size limit


@dataclass(frozen=True, kw_only=True)
class Condition:
    """One named experiment: how it masks and trains, what the paper measured for it, where it runs."""

    name: str  # the id: a shipped checkpoint's file name, a grid cell's prefix
    label: str  # as tables and charts show it
    mode: str = "none"  # focusmim_core.masking.MODES
    ratio: float = 0.0
    fill: str = "mean"
    fixation: str = "center"  # focusmim_core.fixations: center (the paper's) | uniform | foreground
    attention: str = "none"  # covert attention: none | random | foreground
    foreground_loss: bool | None = None  # None: the trainer's default (on the object when a segmentation is given)
    objective: str = "pixel"  # focusmim_core.objectives
    arch: str = "cnn_mae"  # focusmim_core.architectures
    random_crop: bool = True
    learning_rate: float | None = None  # Adam at the paper's batch of 512 (None: the objective's or arch's own)
    kind: str = PRETRAIN
    paper: Paper | None = None
    grids: tuple[str, ...] = ()  # experiment grids (train.grid) that run it
    demo: Demo | None = None

    @property
    def pretrain(self) -> bool:
        """Whether the condition trains a network (the raw pixels and the paper's references do not)."""
        return self.kind == PRETRAIN

    def pretrain_settings(self) -> dict[str, Any]:
        """The ``train.pretrain`` (``PretrainConfig``) fields this condition sets: its mode, its ratio where the
        mode has one, its rate when it has its own, and every other setting that differs from the paper's."""
        settings: dict[str, Any] = {"masking_mode": self.mode}
        if MODES[self.mode].uses_ratio:
            settings["masking_ratio"] = self.ratio
        defaults = {item.name: item.default for item in fields(Condition)}
        values = {name: getattr(self, name) for name in _TRAINER_FIELDS}
        settings.update({name: value for name, value in values.items() if value != defaults[name]})
        return settings


# Condition fields that are PretrainConfig fields of the same name (beside the mode and ratio)
_TRAINER_FIELDS = ("fill", "fixation", "attention", "foreground_loss", "objective", "arch", "random_crop",
                   "learning_rate")  # fmt: skip
PATCHES = {"mode": "random_patches", "ratio": 0.6}
PERIPHERY = {"mode": "periphery", "ratio": 0.8}

CONDITIONS: dict[str, Condition] = {
    condition.name: condition
    for condition in (
        Condition(
            name="autoencoder", label="Autoencoder (no mask)", learning_rate=OTHER_RATE,
            paper=Paper("autoencoder", 47.0), grids=("fig4",), demo=Demo(),
        ),
        Condition(
            name="random_patches_0.6", label="Random patches 0.6", **PATCHES, learning_rate=OTHER_RATE,
            paper=Paper("random patches", 70.3), grids=("fig4", "ratios", "foreground"), demo=Demo(),
        ),
        Condition(
            name="periphery_0.8", label="Masked periphery 0.8", **PERIPHERY, learning_rate=PERIPHERY_RATE,
            paper=Paper("masked periphery", 68.0), grids=("fig4", "ratios", "foreground"),
            demo=Demo(learning_rate=5e-3, fixation="uniform", dataset="photos", size=32768),
        ),
        Condition(
            name="foveate", label="Foveal filter", mode="foveate", learning_rate=OTHER_RATE,
            paper=Paper("foveal filter", 50.0), grids=("fig4",), demo=Demo(fixation="uniform"),
        ),
        Condition(
            name="blurry_patches_0.6", label="Blurry patches 0.6", **PATCHES, fill="blur", learning_rate=OTHER_RATE,
            paper=Paper("blurry patches", 56.4), grids=("fig4",), demo=Demo(learning_rate=1e-3),
        ),
        Condition(
            name="blurry_periphery_0.8", label="Blurry periphery 0.8", **PERIPHERY, fill="blur",
            learning_rate=PERIPHERY_RATE, paper=Paper("blurry periphery", 49.0), grids=("fig4",),
            demo=Demo(learning_rate=3e-4, fixation="uniform"),
        ),
        # Latent MIM's objective on the masked periphery; its batch-512 rate is the objective's own
        Condition(
            name="latent_periphery_0.8", label="Latent MIM periphery 0.8", **PERIPHERY, objective="latent",
            demo=Demo(learning_rate=3e-4, max_megabytes=12.0),
        ),
        Condition(
            name="periphery_0.8_no_crop", label="Masked periphery 0.8, no crop augmentation", **PERIPHERY,
            random_crop=False, learning_rate=PERIPHERY_RATE,
            paper=Paper("periphery without crop augmentation", 56.6), grids=("fig4",),
        ),
        Condition(
            name="raw_pixels", label="Raw pixels", kind=PROBE_ONLY, paper=Paper("raw pixels", 36.0), grids=("fig4",)
        ),
        Condition(name="clapp_bp", label="CLAPP-BP", kind=REFERENCE, paper=Paper("CLAPP-BP (contrastive)", 79.0)),
        Condition(name="lpl_bp", label="LPL-BP", kind=REFERENCE, paper=Paper("LPL-BP (contrastive)", 72.5)),
        # paper 3.7 and Fig. 5-6: the loss on the object only, and covert attention
        Condition(
            name="random_patches_0.6_fg", label="Random patches 0.6, loss on the object", **PATCHES,
            foreground_loss=True, learning_rate=OTHER_RATE, grids=("foreground",),
        ),
        Condition(
            name="periphery_0.8_fg", label="Masked periphery 0.8, loss on the object", **PERIPHERY,
            foreground_loss=True, learning_rate=PERIPHERY_RATE, grids=("foreground",),
        ),
        Condition(
            name="periphery_0.8_att_random", label="Masked periphery 0.8 + attention at random", **PERIPHERY,
            attention="random", foreground_loss=True, learning_rate=PERIPHERY_RATE, grids=("foreground",),
        ),
        Condition(
            name="periphery_0.8_att_object", label="Masked periphery 0.8 + attention on the object", **PERIPHERY,
            attention="foreground", foreground_loss=True, learning_rate=PERIPHERY_RATE, grids=("foreground",),
        ),
        # paper 3.5: ConvNeXt-V2-Pico; the periphery as the central cells (periphery_square, focusmim_core.convnext)
        Condition(
            name="convnext_patches_0.6", label="ConvNeXt-V2 random patches 0.6", **PATCHES, arch="convnextv2_pico",
            grids=("convnext",),
        ),
        Condition(
            name="convnext_periphery_0.8", label="ConvNeXt-V2 central cells 0.8", mode="periphery_square",
            ratio=0.8, arch="convnextv2_pico", grids=("convnext",),
        ),
    )
}  # fmt: skip
TRAINER_DEFAULT = CONDITIONS["random_patches_0.6"]  # the paper's best; train.pretrain's masking without options
TRAINER_DEFAULT_RATE = CONDITIONS["periphery_0.8"].learning_rate  # the reference code's default rate


def demos() -> list[Condition]:
    """The conditions shipped as demo checkpoints, in table order."""
    return [condition for condition in CONDITIONS.values() if condition.demo is not None]


def paper_conditions() -> list[Condition]:
    """The conditions with a number from the paper, in table order."""
    return [condition for condition in CONDITIONS.values() if condition.paper is not None]


def grid_conditions(grid: str) -> list[Condition]:
    """The conditions tagged with experiment grid ``grid``, in table order."""
    return [condition for condition in CONDITIONS.values() if grid in condition.grids]


def paper_condition(
    mode: str, fill: str = "mean", random_crop: bool = True, objective: str = "pixel", arch: str = "cnn_mae"
) -> Condition | None:
    """The paper's trained condition with this setup (the fill counts only for modes that fill), or ``None``."""
    if mode not in MODES:
        return None
    for condition in paper_conditions():
        if (
            condition.pretrain
            and (condition.mode, condition.random_crop, condition.objective, condition.arch)
            == (mode, random_crop, objective, arch)
            and (condition.fill == fill or not MODES[mode].uses_fill)
        ):
            return condition
    return None


def paper_accuracy(
    mode: str, fill: str = "mean", random_crop: bool = True, objective: str = "pixel", arch: str = "cnn_mae"
) -> float | None:
    """The paper's STL-10 linear-probe accuracy (%) for a training setup, or ``None`` when it has none."""
    condition = paper_condition(mode, fill, random_crop, objective, arch)
    return None if condition is None else condition.paper.accuracy


def paper_accuracy_of(key: str | None) -> float | None:
    """The paper's accuracy (%) for a condition id; result files written before ids were recorded name the
    paper's label instead, which is accepted too."""
    condition = CONDITIONS.get(key or "") or next((c for c in paper_conditions() if c.paper.label == key), None)
    return None if condition is None or condition.paper is None else condition.paper.accuracy
