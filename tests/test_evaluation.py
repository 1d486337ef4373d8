"""The held-out reconstruction evaluation (``focusmim_core.evaluation``) and its command line."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

from focusmim_core import CheckpointMetadata, save_checkpoint
from focusmim_core.errors import InputError
from focusmim_core.evaluation import (
    EVAL_FIXATIONS,
    METRICS_KEY,
    ReconstructionReport,
    evaluate_reconstruction,
    stored_report,
)
from focusmim_core.explorer.catalog import untrained_model
from focusmim_core.inpainting import harmonic_inpaint
from train import evaluate


class Echo(nn.Module):
    """Returns its input as the reconstruction: "doing nothing"."""

    def __init__(self, shift: float = 0.0):
        super().__init__()
        self.shift = nn.Parameter(torch.tensor(shift))

    def forward(self, x, visible=None):
        return (x + self.shift).clamp(0, 1), torch.zeros(x.shape[0], 128, 12, 12)


class Grey(Echo):
    """Predicts mid-grey everywhere."""

    def forward(self, x, visible=None):
        return torch.full_like(x, 0.5) + 0 * self.shift, torch.zeros(x.shape[0], 128, 12, 12)


@pytest.mark.parametrize(("mode", "ratio"), [("random_patches", 0.6), ("periphery", 0.8), ("foveate", 0.0)])
def test_returning_the_input_gains_nothing(mode, ratio):
    report = evaluate_reconstruction(Echo(), mode, ratio)
    assert report.views == 8 * len(EVAL_FIXATIONS) == 40
    assert report.gain == pytest.approx(0.0, abs=1e-6)
    assert report.psnr_hidden == pytest.approx(report.psnr_input_hidden, abs=1e-6)
    assert report.psnr_visible is None  # the visible pixels are copied exactly


def test_the_autoencoder_has_no_input_column_and_an_exact_copy_is_infinite():
    report = evaluate_reconstruction(Echo(), "none", 0.0)
    assert report.psnr_input_hidden is None and report.gain is None and report.psnr_visible is None
    assert math.isinf(report.psnr_whole)
    shifted = evaluate_reconstruction(Echo(0.05), "none", 0.0)
    assert 20 < shifted.psnr_whole < 30  # a 0.05 offset (clamped at 1) is about 26 dB


@pytest.mark.parametrize("mode", ["random_patches", "periphery", "foveate"])
def test_hidden_and_visible_regions_pool_into_the_whole_image(mode):
    """Pooled MSEs: area-weighted hidden and visible errors add up to the whole-image error."""
    report = evaluate_reconstruction(Grey(), mode, 0.6)
    mse = {name: 10 ** (-getattr(report, name) / 10) for name in ("psnr_hidden", "psnr_visible", "psnr_whole")}
    low, high = sorted((mse["psnr_hidden"], mse["psnr_visible"]))
    assert low < mse["psnr_whole"] < high  # a proper mixture of the two regions


def test_random_patches_come_from_a_fixed_seed():
    model = untrained_model(seed=3)
    first = evaluate_reconstruction(model, "random_patches", 0.6)
    assert evaluate_reconstruction(model, "random_patches", 0.6) == first
    assert evaluate_reconstruction(model, "random_patches", 0.4) != first


def test_stored_reports_are_read_back_and_malformed_ones_refused():
    report = evaluate_reconstruction(Grey(), "periphery", 0.8)
    metrics = {METRICS_KEY: report.to_dict()}
    again = stored_report(json.loads(json.dumps(metrics)))
    assert again is not None and again.psnr_hidden == pytest.approx(report.psnr_hidden, abs=0.01)
    assert "dB over its input on held-out photos" in again.summary()
    assert stored_report({}) is None and stored_report("not a dict") is None
    assert stored_report({METRICS_KEY: {**report.to_dict(), "gain": "+3 dB"}}) is None
    assert stored_report({METRICS_KEY: {**report.to_dict(), "psnr_whole": None}}) is None
    whole = ReconstructionReport(None, None, None, None, 21.04, 40)
    assert whole.summary() == "21.0 dB PSNR on held-out photos"


def test_the_evaluate_command_prints_the_columns_and_writes_the_metadata(tmp_path, capsys):
    path = save_checkpoint(
        tmp_path / "p.safetensors", untrained_model(seed=1), CheckpointMetadata(mode="periphery", ratio=0.8)
    )
    assert evaluate.main([str(path), "--write"]) == 0
    out = capsys.readouterr().out
    assert "hidden-region PSNR" in out and "harmonic inpainting there" in out and "| `p` |" in out
    stored = stored_report(json.loads(path.with_suffix(".json").read_text())["metrics"])
    assert stored is not None and stored.views == 40
    assert evaluate.main([str(tmp_path / "missing.safetensors")]) == 2
    assert "No checkpoint at" in capsys.readouterr().err


def test_harmonic_inpainting_keeps_what_is_shown_and_fills_a_smooth_ramp_exactly():
    ramp = torch.linspace(0, 1, 96).expand(2, 3, 96, 96).clone()  # varies along x only: harmonic
    visible = torch.ones(2, 1, 96, 96)
    visible[0, :, 30:70, 20:60] = 0  # a hole inside the image
    visible[1, :, :, 40:50] = 0  # a band from the top border to the bottom one
    holed = ramp * visible
    filled = harmonic_inpaint(holed, visible)
    assert torch.equal(filled * visible, holed * visible)  # shown pixels exactly as they were
    assert torch.allclose(filled, ramp, atol=1e-5)


def test_harmonic_inpainting_stays_within_what_is_shown_and_refuses_bad_shapes():
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(3, 3, 24, 24, generator=generator)
    visible = (torch.rand(3, 1, 24, 24, generator=generator) > 0.7).float()
    visible[2] = 0  # nothing shown: nothing to extend, returned as it was
    filled = harmonic_inpaint(images, visible)
    for i in range(2):  # the maximum principle: no value beyond the shown ones
        shown = images[i][:, visible[i, 0] > 0.5]
        assert filled[i].min() >= shown.min() - 1e-6 and filled[i].max() <= shown.max() + 1e-6
    assert torch.equal(filled[2], images[2])
    with pytest.raises(InputError, match="visible mask"):
        harmonic_inpaint(images, visible[:, :, :10])


def test_the_report_measures_harmonic_inpainting_where_pixels_are_hidden():
    patches = evaluate_reconstruction(Echo(), "random_patches", 0.6)
    # smoothing the neighbours into 8 x 8 holes beats the mean colour by far on photos
    assert patches.psnr_inpainted_hidden > patches.psnr_input_hidden + 3
    assert evaluate_reconstruction(Echo(), "periphery", 0.8).psnr_inpainted_hidden is not None
    assert evaluate_reconstruction(Echo(), "foveate", 0.0).psnr_inpainted_hidden is None  # nothing hidden
    assert evaluate_reconstruction(Echo(), "none", 0.0).psnr_inpainted_hidden is None
    stored = stored_report({METRICS_KEY: patches.to_dict()})
    assert stored.psnr_inpainted_hidden == pytest.approx(patches.psnr_inpainted_hidden, abs=0.01)
    older = {k: v for k, v in patches.to_dict().items() if k != "psnr_inpainted_hidden"}
    assert stored_report({METRICS_KEY: older}).psnr_inpainted_hidden is None  # metadata written before it


def test_by_fixation_rows_split_the_pooled_report_into_its_five_fixations(tmp_path, capsys):
    path = save_checkpoint(
        tmp_path / "p.safetensors", untrained_model(seed=2), CheckpointMetadata(mode="periphery", ratio=0.8)
    )
    assert evaluate.main([str(path), "--by-fixation", "--json"]) == 0
    pooled, *rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert "fixation" not in pooled and [tuple(row["fixation"]) for row in rows] == list(EVAL_FIXATIONS)
    assert pooled["views"] == 40 and all(row["views"] == 8 for row in rows)
    # every disc lies inside the image, so each fixation hides as many pixels: pooled MSE = mean of the rows'
    mse = [10 ** (-row["psnr_hidden"] / 10) for row in rows]
    assert -10 * math.log10(sum(mse) / len(mse)) == pytest.approx(pooled["psnr_hidden"], abs=0.02)
    assert len({row["psnr_hidden"] for row in rows}) > 1  # each row is its own fixation
    assert evaluate.main([str(path)]) == 0 and " at (" not in capsys.readouterr().out  # one row without the flag
