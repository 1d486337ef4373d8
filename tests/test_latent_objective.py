"""The latent objective (Latent MIM): the loss's facts, the EMA schedule, a tiny run, DDP, the app."""

from __future__ import annotations

import json
import math
import os
import subprocess
from pathlib import Path

import pytest
import torch
from processes import failure_report, torchrun
from safetensors.torch import load_file

import train.pretrain as pretrain
from focusmim_core import load_checkpoint
from focusmim_core.checkpoints import TRAINER_PREFIX
from focusmim_core.masking import mask_images, visible_pixels
from focusmim_core.model import Autoencoder
from focusmim_core.objectives import OBJECTIVES, latent_loss
from focusmim_core.objectives.latent_mim import (
    LatentMIM,
    cosine_ramp,
    info_nce,
    target_cells,
    target_view,
)
from focusmim_core.pretraining import Batch

REPO = Path(__file__).resolve().parents[1]


def cells_of(t: torch.Tensor) -> torch.Tensor:
    """``(N, C, 12, 12)`` -> ``(N, 144, C)``."""
    return t.flatten(2).transpose(1, 2)


@pytest.fixture(scope="module")
def setup():
    """A seeded untrained Latent MIM, a periphery batch and its outputs."""
    torch.manual_seed(0)
    model = LatentMIM(Autoencoder().encoder)
    images = torch.rand(3, 3, 96, 96, generator=torch.Generator().manual_seed(1))
    inputs, loss_mask = mask_images(images, "periphery", 0.8)
    with torch.no_grad():
        prediction, target, _, _ = model(inputs, visible_pixels(loss_mask, "periphery"),
                                         target_view(images, loss_mask, "complement"))  # fmt: skip
    return model, images, inputs, loss_mask, prediction, target


def test_the_loss_at_initialisation_is_about_2_tau_ln_of_the_target_cells(setup):
    _, _, _, loss_mask, prediction, target = setup
    cells = target_cells(loss_mask)
    loss = float(info_nce(cells_of(prediction), cells_of(target), cells, 0.2))
    expected = float((2 * 0.2 * torch.log(cells.sum(1).float())).mean())
    assert int(cells[0].sum()) == 114 and loss == pytest.approx(expected, rel=0.05)


def test_permuting_cells_in_predictions_and_targets_together_changes_nothing(setup):
    _, _, _, loss_mask, prediction, target = setup
    cells, p, t = target_cells(loss_mask), cells_of(prediction), cells_of(target)
    order = torch.randperm(144, generator=torch.Generator().manual_seed(3))
    same = info_nce(p[:, order], t[:, order], cells[:, order], 0.2)
    assert float(same) == pytest.approx(float(info_nce(p, t, cells, 0.2)), abs=1e-6)
    shuffled = info_nce(p, t[:, order], cells, 0.2)  # the positives moved: a different (worse) pairing
    assert float(shuffled) != pytest.approx(float(info_nce(p, t, cells, 0.2)), abs=1e-6)


def test_the_ema_momentum_and_the_similarity_target_follow_their_cosines():
    assert cosine_ramp(0.99, 1.0, 0.0) == pytest.approx(0.99) and cosine_ramp(0.99, 1.0, 1.0) == 1.0
    assert cosine_ramp(0.99, 1.0, 0.5) == pytest.approx(0.995) and cosine_ramp(0.75, 0.25, 1.0) == 0.25
    torch.manual_seed(0)
    model = LatentMIM(Autoencoder().encoder)
    with torch.no_grad():
        for p in model.encoder.parameters():
            p.add_(1.0)
    before = [t.clone() for t in model.target_encoder.parameters()]
    model.update_target(1.0)  # momentum 1: the target does not move
    assert all(torch.equal(a, b) for a, b in zip(before, model.target_encoder.parameters(), strict=True))
    model.update_target(0.0)  # momentum 0: the target becomes the online network
    assert all(torch.equal(p, t) for p, t in zip(model.encoder.parameters(), model.target_encoder.parameters(),
                                                 strict=True))  # fmt: skip


def test_the_loss_updates_the_target_before_computing_it(setup):
    model, images, inputs, loss_mask, _, _ = setup
    model = LatentMIM(Autoencoder().encoder)
    with torch.no_grad():
        for p in model.encoder.parameters():
            p.mul_(1.5)
    batch = Batch(inputs, images, loss_mask, visible_pixels(loss_mask, "periphery"))
    loss, latent, logs = latent_loss(model, model, batch, fraction=0.0)  # momentum 0.99 at the start
    online = next(model.encoder.parameters())
    target = next(model.target_encoder.parameters())
    assert torch.allclose(target, online / 1.5 * (0.99 + 0.01 * 1.5))
    assert latent.shape == (3, 128, 12, 12) and set(logs) >= {"avg_sim_pred", "avg_sim_target", "avg_sim_visible"}
    loss.backward()
    assert model.mask_token.grad is not None and next(model.target_encoder.parameters()).grad is None


def test_the_objective_brings_the_latent_mim_optimiser_unless_given():
    config = pretrain.parse_config(["--objective", "latent", "--masking-mode", "periphery", "--batch-size", "512"])
    assert (config.optimizer, config.weight_decay, config.betas) == ("adamw", 0.05, (0.9, 0.95))
    assert config.learning_rate == pytest.approx(3e-4) and config.warmup == 0.05 and config.lr_floor == 0.25
    given = pretrain.parse_config(["--objective", "latent", "--learning-rate", "1e-3", "--optimizer", "sgd"])
    assert given.learning_rate == 1e-3 and given.optimizer == "sgd"
    assert set(OBJECTIVES) == {"pixel", "latent"}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--objective", "latent", "--masking-mode", "foveate"], "--objective latent needs --masking-mode"),
        (["--objective", "latent", "--arch", "convnextv2_pico"], "--objective latent works with --arch cnn_mae"),
        (["--objective", "latent", "--target-view", "half"], "Unknown --target-view 'half'"),
        (["--objective", "telepathy"], "Unknown objective 'telepathy'"),
    ],
)
def test_bad_latent_settings_give_a_message(tmp_path, capsys, options, message):
    argv = ["--dataset", "synthetic", "--size", "8", "--output-path", str(tmp_path), *options]
    assert pretrain.main(argv) == 2
    assert message in capsys.readouterr().err


@pytest.mark.slow
def test_a_tiny_latent_run_learns_without_collapsing_and_loads(tmp_path, capsys):
    out = tmp_path / "latent"
    argv = ["--objective", "latent", "--dataset", "photos", "--size", "64", "--batch-size", "16", "--epochs", "6"]
    argv += ["--masking-mode", "random_patches", "--learning-rate", "2e-4", "--device", "cpu"]
    argv += ["--output-path", str(out)]
    assert pretrain.main(argv) == 0
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert records[-1]["infonce"] < records[0]["infonce"] and records[-1]["masked_mse"] is None
    assert records[-1]["avg_sim_pred"] < 0.9 and records[-1]["avg_sim_visible"] < 0.9  # far from collapse
    assert records[-1]["avg_sim_target"] < records[0]["avg_sim_target"] and records[-1]["target_rank"] > 10
    model, meta = load_checkpoint(out / "best.safetensors")
    assert isinstance(model, LatentMIM) and meta.objective == "latent" and "latent objective" in meta.title()
    assert model.probe_features(torch.rand(2, 3, 96, 96)).shape == (2, 18_432)
    assert pretrain.main([*argv[:-2], "--output-path", str(tmp_path / "px"), "--objective", "pixel",
                          "--init-from", str(out / "best.safetensors")]) == 2  # fmt: skip
    assert "trained with the latent objective, not pixel" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.usefixtures("one_thread")  # the one-process run here, the same as each rank
def test_two_process_ddp_matches_one_process_with_the_ema_target_too(tmp_path):
    args = ["--objective", "latent", "--dataset", "synthetic", "--limit", "8", "--batch-size", "8", "--epochs", "2"]
    args += ["--random-crop", "False", "--masking-mode", "periphery", "--device", "cpu", "--optimizer", "sgd"]
    args += ["--learning-rate", "0.05", "--warmup", "0"]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    assert pretrain.main([*args, "--output-path", str(tmp_path / "one")]) == 0
    done = subprocess.run([*torchrun(), "-m", "train.pretrain", *args, "--output-path", str(tmp_path / "two")], env=env,
                          capture_output=True, text=True, cwd=REPO, timeout=300)  # fmt: skip
    assert done.returncode == 0, failure_report(done)
    runs = {name: load_file(str(tmp_path / name / "last.safetensors")) for name in ("one", "two")}
    names = [k for k in runs["one"] if not k.startswith(TRAINER_PREFIX)]
    assert any(k.startswith("target_encoder.") for k in names)
    difference = max(float((runs["one"][k] - runs["two"][k]).abs().max()) for k in names)
    assert difference < 1e-5 and math.isfinite(difference)
