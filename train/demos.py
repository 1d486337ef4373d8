"""The shipped demo checkpoints: which ones exist, how each is masked, and the goals they must meet."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DemoSpec:
    """One shipped checkpoint: its file name, label and masking settings."""

    name: str
    label: str
    mode: str
    ratio: float = 0.0
    fill: str = "mean"
    share: float = 2.0  # relative share of a --continue time budget (issue budget: 200k vs 100k images)


DEMOS = (
    DemoSpec("autoencoder", "Autoencoder (no mask)", "none"),
    DemoSpec("random_patches_0.6", "Random patches 0.6", "random_patches", 0.6),
    DemoSpec("periphery_0.8", "Masked periphery 0.8", "periphery", 0.8),
    DemoSpec("foveate", "Foveal filter", "foveate"),
    DemoSpec("blurry_patches_0.6", "Blurry patches 0.6", "random_patches", 0.6, "blur", 1.0),
    DemoSpec("blurry_periphery_0.8", "Blurry periphery 0.8", "periphery", 0.8, "blur", 1.0),
)
PAPER_ENTRY = {  # which of the paper's Fig. 4 numbers (focusmim_core.runs.PAPER_ACCURACY) each demo mirrors
    "autoencoder": "autoencoder",
    "random_patches_0.6": "random patches",
    "periphery_0.8": "masked periphery",
    "foveate": "foveal filter",
    "blurry_patches_0.6": "blurry patches",
    "blurry_periphery_0.8": "blurry periphery",
}


@dataclass(frozen=True)
class Goal:
    """A quality goal of one shipped checkpoint on the held-out gallery (``focusmim_core.evaluation``).

    ``metric`` is a field of ``ReconstructionReport`` in dB; the goal is met at ``target`` or
    above. ``floor`` is the ratchet: the value the shipped file reached when it was last
    trained, less a margin; ``tests/test_shipped_checkpoints.py`` fails below it, so a
    retrained checkpoint cannot silently regress. Raise it whenever a checkpoint improves.
    """

    checkpoint: str
    metric: str
    target: float
    floor: float
    text: str

    @property
    def met(self) -> bool:
        """Whether the last shipped checkpoint reached the target (its floor is at or above it)."""
        return self.floor >= self.target


GOALS = (  # floors: the values measured on the files shipped on 2026-12-02, less 0.1-0.2 dB
    Goal("autoencoder", "psnr_whole", 24.0, 22.4, "whole-image PSNR ≥ 24 dB"),  # 22.54
    Goal("random_patches_0.6", "gain", 1.5, 3.8, "hidden region ≥ its input's + 1.5 dB"),  # 3.98
    Goal("periphery_0.8", "gain", 1.5, -0.3, "hidden region ≥ its input's + 1.5 dB"),  # -0.15
    Goal("periphery_0.8", "psnr_visible", 22.0, 12.3, "visible region ≥ 22 dB"),  # 12.44
    Goal("foveate", "gain", 0.0, -2.7, "hidden region ≥ its input's"),  # -2.58
    Goal("blurry_patches_0.6", "gain", 0.0, 0.8, "hidden region ≥ its input's"),  # 1.00
    Goal("blurry_periphery_0.8", "gain", 0.0, 1.2, "hidden region ≥ its input's"),  # 1.37
)
