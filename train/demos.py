"""The shipped demo checkpoints: which ones exist, how each is masked, and the goals they must meet."""

from __future__ import annotations

from dataclasses import dataclass

from focusmim_core.experiments import Condition, demos


@dataclass(frozen=True)
class DemoSpec:
    """One shipped checkpoint: a condition of ``focusmim_core.experiments`` as the CPU demo trains it (a view of
    the table entry; ``learning_rate``, ``dataset`` and ``size`` are what a command line may replace, ``None``
    leaving the choice to it)."""

    condition: Condition
    name: str  # the condition's id: the shipped file's name
    label: str
    mode: str
    ratio: float
    fill: str
    objective: str  # latent demos are measured by their latent cosine
    fixation: str  # the demo's own fixation policy, else the condition's
    max_megabytes: float
    learning_rate: float | None  # the demo's own rate (None: the command line's, else DEMO_LEARNING_RATE)
    dataset: str | None
    size: int | None

    @classmethod
    def of(cls, c: Condition) -> DemoSpec:
        """The demo of a table entry that has one."""
        demo = c.demo
        return cls(
            c, c.name, c.label, c.mode, c.ratio, c.fill, c.objective, demo.fixation or c.fixation,
            demo.max_megabytes, demo.learning_rate, demo.dataset, demo.size,
        )  # fmt: skip


# Why each demo trains as it does: checkpoints/README.md, "Why the recipes are as they are".
DEMOS = tuple(DemoSpec.of(condition) for condition in demos())


@dataclass(frozen=True)
class Goal:
    """A quality goal of one shipped checkpoint on the held-out gallery (``focusmim_core.evaluation``).

    ``metric`` is a field or property of ``ReconstructionReport`` in dB; the goal is met at ``target`` or
    above, and ``checkpoints/README.md`` shows how far each shipped file is from it. ``floor`` is the
    ratchet: ``tests/test_shipped_checkpoints.py`` fails below it, so a retrained checkpoint cannot
    silently regress. Raise it whenever a checkpoint improves.
    """

    checkpoint: str
    metric: str
    target: float
    floor: float
    text: str


# Floors sit 0.1-0.2 dB below what the shipped file measures, so that rounding and another CPU's kernels
# never trip them while a real regression does.
GOALS = (
    Goal("autoencoder", "psnr_whole", 24.0, 25.3, "whole-image PSNR ≥ 24 dB"),
    Goal("random_patches_0.6", "gain", 1.5, 5.2, "hidden region ≥ its input's + 1.5 dB"),
    Goal("periphery_0.8", "gain", 1.5, 0.6, "hidden region ≥ its input's + 1.5 dB"),
    # The visible region is not in the loss, so a run that raises the gain may lose some of it: this floor is
    # further below the measured value than the others.
    Goal("periphery_0.8", "psnr_visible", 22.0, 14.0, "visible region ≥ 22 dB"),
    Goal("foveate", "gain", 0.0, 1.1, "hidden region ≥ its input's"),
    Goal("blurry_patches_0.6", "gain", 0.0, 3.7, "hidden region ≥ its input's"),
    Goal("blurry_periphery_0.8", "gain", 0.0, 1.5, "hidden region ≥ its input's"),
    # and no network that hides pixels below the learning-free reference
    Goal("random_patches_0.6", "gain_over_inpainting", 0.0, 0.5, "hidden region ≥ harmonic inpainting's"),
    Goal("periphery_0.8", "gain_over_inpainting", 0.0, 1.1, "hidden region ≥ harmonic inpainting's"),
    Goal("blurry_patches_0.6", "gain_over_inpainting", 0.0, 1.8, "hidden region ≥ harmonic inpainting's"),
    Goal("blurry_periphery_0.8", "gain_over_inpainting", 0.0, 5.1, "hidden region ≥ harmonic inpainting's"),
)
