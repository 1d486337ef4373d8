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
    share: float = 2.0  # relative share of a --continue time budget, set by what each goal still needs
    learning_rate: float | None = None  # this checkpoint's own rate (None: the command line's)
    objective: str = "pixel"  # focusmim_core.objectives: latent demos are measured by their latent cosine
    max_megabytes: float = 6.0  # the shipped file's size limit
    fixation: str = "center"  # where the eye looks in training (focusmim_core.fixations): center (paper) | uniform
    dataset: str | None = None  # offline training data (train.training_data): None: the command line's, else mixed
    size: int | None = None  # training images (None: the command line's, else ship_demo.DEFAULT_SIZE)


DEMOS = (  # shares from 2026-12-02 (4th session): in proportion to what each still lacks of the image budget
    # (the 5th session trained only random patches, periphery and foveate: --only, equal shares)
    DemoSpec("autoencoder", "Autoencoder (no mask)", "none", share=2.0),
    DemoSpec("random_patches_0.6", "Random patches 0.6", "random_patches", 0.6, share=2.0),
    # 5e-3: the best of four rates over 3,072 images from the shipped weights (bench_recipe --quality)
    # uniform fixations since 2026-12-06: trained at the centre only, it gained +1.36 dB there and +0.3 at the
    # held-out report's four other fixations (and the explorer lets a user fixate anywhere)
    # photo crops alone, 32,768 of them, since 2026-12-06: from the same weights they gained +0.73 dB in 40 min,
    # the mixed data's 8,192 images +0.67 (and 8,192 crops of 15 photos had lost gain on 2026-12-03); continued
    # 64 min more on them the gain fell to +0.45 (not shipped): within the spread of runs, not settled
    DemoSpec(
        "periphery_0.8", "Masked periphery 0.8", "periphery", 0.8, share=2.0, learning_rate=5e-3, fixation="uniform",
        dataset="photos", size=32768,
    ),
    # uniform fixations since 2026-12-06 (as periphery_0.8): trained at the centre only, it gained +1.6 dB there
    # and +0.5 to +0.8 at the held-out report's four other fixations
    DemoSpec("foveate", "Foveal filter", "foveate", share=2.0, fixation="uniform"),
    # 1e-3: at 2e-3 their second short run (a warm restart of Adam) came out worse than the weights it started from
    DemoSpec("blurry_patches_0.6", "Blurry patches 0.6", "random_patches", 0.6, "blur", 1.2, 1e-3),
    # 3e-4: its third continued run at 1e-3 (79,488 images) came out worse on every measure (gain 1.55 vs 1.67)
    # uniform fixations since 2026-12-06: at the centre only, +2.4 dB there and +1.4 to +1.6 elsewhere
    DemoSpec("blurry_periphery_0.8", "Blurry periphery 0.8", "periphery", 0.8, "blur", 1.2, 3e-4, fixation="uniform"),
    # Latent MIM's objective on the masked periphery, the pixel twin of periphery_0.8; AdamW at 3e-4 (the Latent
    # MIM rate, 1.5e-4 x batch / 256, is 1.9e-5 at batch 32: too slow for minutes of CPU); predictor and EMA
    # target make the file larger
    DemoSpec(
        "latent_periphery_0.8", "Latent MIM periphery 0.8", "periphery", 0.8,
        share=0.4, learning_rate=3e-4, objective="latent", max_megabytes=12.0,
    ),
)
PAPER_ENTRY = {  # which of the paper's Fig. 4 numbers (focusmim_core.explorer.runs.PAPER_ACCURACY) each demo mirrors
    "autoencoder": "autoencoder",
    "random_patches_0.6": "random patches",
    "periphery_0.8": "masked periphery",
    "foveate": "foveal filter",
    "blurry_patches_0.6": "blurry patches",
    "blurry_periphery_0.8": "blurry periphery",
    "latent_periphery_0.8": None,  # not in the paper
}


@dataclass(frozen=True)
class Goal:
    """A quality goal of one shipped checkpoint on the held-out gallery (``focusmim_core.explorer.evaluation``).

    ``metric`` is a field or property of ``ReconstructionReport`` in dB; the goal is met at ``target`` or
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


GOALS = (  # floors: each shipped file's measured value (its line's comment; 2026-12-02 unless dated), less 0.1-0.2 dB
    Goal("autoencoder", "psnr_whole", 24.0, 25.3, "whole-image PSNR ≥ 24 dB"),  # 25.51
    Goal("random_patches_0.6", "gain", 1.5, 5.2, "hidden region ≥ its input's + 1.5 dB"),  # 5.38 (2026-12-03)
    Goal("periphery_0.8", "gain", 1.5, 0.6, "hidden region ≥ its input's + 1.5 dB"),  # 0.73 (2026-12-06, 2nd)
    # lowered on purpose (2026-12-06): 14.66 -> 14.23 dB while the gain rose 0.54 -> 0.73; nothing in the loss holds
    # the disc, and both arms of that session's data comparison lost some of it (14.37 on the old data)
    Goal("periphery_0.8", "psnr_visible", 22.0, 14.0, "visible region ≥ 22 dB"),  # 14.23 (2026-12-06, 2nd)
    Goal("foveate", "gain", 0.0, 1.1, "hidden region ≥ its input's"),  # 1.26 (2026-12-06)
    Goal("blurry_patches_0.6", "gain", 0.0, 3.7, "hidden region ≥ its input's"),  # 3.85 (2026-12-04)
    Goal("blurry_periphery_0.8", "gain", 0.0, 1.5, "hidden region ≥ its input's"),  # 1.63 (2026-12-03)
    # and no network that hides pixels below the learning-free reference (floors from 2026-12-03)
    Goal("random_patches_0.6", "gain_over_inpainting", 0.0, 0.5, "hidden region ≥ harmonic inpainting's"),  # 0.63
    Goal("periphery_0.8", "gain_over_inpainting", 0.0, 1.1, "hidden region ≥ harmonic inpainting's"),  # 1.31 (12-06)
    Goal("blurry_patches_0.6", "gain_over_inpainting", 0.0, 1.8, "hidden region ≥ harmonic inpainting's"),  # 2.04
    Goal("blurry_periphery_0.8", "gain_over_inpainting", 0.0, 5.1, "hidden region ≥ harmonic inpainting's"),  # 5.30
)
