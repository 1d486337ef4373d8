"""The paper's autoencoder (reference-compatible), its losses, and latent statistics."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from conftest import FIXTURES

from focusmim_core import (
    Autoencoder,
    SyntheticScenes,
    decorrelation,
    error_map,
    masked_mse,
    per_sample_masked_mse,
    psnr,
    sparsity,
)
from focusmim_core.metrics import brute_force_decorrelation


def test_parameter_names_and_shapes_equal_the_reference():
    reference = json.loads((FIXTURES / "cnn_mae_state_dict.json").read_text())
    ours = [(name, list(t.shape)) for name, t in Autoencoder().state_dict().items()]
    assert ours == [(name, shape) for name, shape in reference["state_dict"]]
    assert sum(t.numel() for t in Autoencoder().state_dict().values()) == reference["total_parameters"] == 2_084_378


def test_a_reference_state_dict_loads_strictly():
    reference = json.loads((FIXTURES / "cnn_mae_state_dict.json").read_text())
    generator = torch.Generator().manual_seed(0)
    state = {name: torch.randn(shape, generator=generator) for name, shape in reference["state_dict"]}
    model = Autoencoder()
    model.load_state_dict(state, strict=True)
    assert torch.equal(model.state_dict()["decoder.16.match_dim.bias"], state["decoder.16.match_dim.bias"])


def test_forward_shapes_and_range(model):
    with torch.no_grad():
        reconstruction, latent = model(torch.rand(2, 3, 96, 96))
    assert reconstruction.shape == (2, 3, 96, 96) and latent.shape == (2, 128, 12, 12)
    assert float(reconstruction.min()) > 0 and float(reconstruction.max()) < 1
    assert float(latent.min()) >= 0  # a ReLU ends the encoder
    assert torch.equal(model.encode(torch.zeros(1, 3, 96, 96)), model(torch.zeros(1, 3, 96, 96))[1])


def test_equal_width_blocks_skip_through_identity_and_ignore_match_dim(model):
    x = torch.rand(1, 3, 96, 96)
    before = model(x)[0]
    with torch.no_grad():
        model.encoder[2].match_dim.weight.add_(1.0)  # 32 -> 32: unused
        model.decoder[2].match_dim.weight.add_(1.0)  # 128 -> 128: unused
    assert torch.equal(model(x)[0], before)
    with torch.no_grad():
        model.encoder[0].match_dim.weight.add_(1.0)  # 3 -> 32: used
    assert not torch.equal(model(x)[0], before)


def test_the_model_learns_a_fixed_batch():
    torch.manual_seed(0)
    model = Autoencoder().train()
    images = SyntheticScenes("train").batch(range(4))[0]
    mask = torch.ones(4, 1, 96, 96)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-8)
    losses = []
    for _ in range(10):
        optimizer.zero_grad()
        loss = masked_mse(model(images)[0], images, mask)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.85 * losses[0]
    assert all(later < earlier for earlier, later in zip(losses[:5], losses[5:], strict=True))


def test_masked_mse_equals_the_references_channel_repeated_formula():
    generator = torch.Generator().manual_seed(0)
    reconstruction, target = (
        torch.rand(3, 3, 96, 96, generator=generator),
        torch.rand(3, 3, 96, 96, generator=generator),
    )
    mask = (torch.rand(3, 1, 96, 96, generator=generator) > 0.4).float()
    repeated = mask.repeat(1, 3, 1, 1)
    expected = ((reconstruction.flatten() - target.flatten()) ** 2 * repeated.flatten()).sum() / repeated.sum()
    torch.testing.assert_close(masked_mse(reconstruction, target, mask), expected)
    foreground = torch.rand(3, 1, 96, 96, generator=generator)
    weights = (mask * foreground).repeat(1, 3, 1, 1)
    expected_fg = ((reconstruction - target) ** 2 * weights).sum() / weights.sum()
    torch.testing.assert_close(masked_mse(reconstruction, target, mask, foreground), expected_fg)


def test_masked_mse_ignores_unmasked_pixels_and_handles_empty_masks():
    target = torch.zeros(1, 3, 8, 8)
    reconstruction = target.clone()
    reconstruction[..., :4] = 1.0  # wrong only in the left half
    left = torch.zeros(1, 1, 8, 8)
    left[..., :4] = 1
    assert float(masked_mse(reconstruction, target, left)) == 1.0
    assert float(masked_mse(reconstruction, target, 1 - left)) == 0.0
    assert float(masked_mse(reconstruction, target, torch.zeros_like(left))) == 0.0
    per_sample = per_sample_masked_mse(reconstruction, target, torch.zeros_like(left))
    assert torch.isnan(per_sample).all()


def uneven_halves() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Reconstruction, target ``(4, 3, 8, 8)`` and a mask ``(4, 1, 8, 8)`` hiding far more of images 0-1 than 2-3."""
    generator = torch.Generator().manual_seed(0)
    reconstruction, target = torch.rand(2, 4, 3, 8, 8, generator=generator)
    mask = torch.zeros(4, 1, 8, 8)
    mask[:2, :, :7] = 1.0  # 56 of 64 pixels hidden in the first half
    mask[2:, :, :1] = 1.0  # 8 of 64 in the second
    return reconstruction, target, mask


def shard_losses(rank: int, world: int, folder: str) -> None:
    """One process of two (gloo): both masked MSEs of its half of ``uneven_halves``, saved for the test."""
    dist.init_process_group("gloo", init_method=f"file://{folder}/store", rank=rank, world_size=world)
    reconstruction, target, mask = (t.chunk(world)[rank] for t in uneven_halves())
    losses = [masked_mse(reconstruction, target, mask, across_processes=flag) for flag in (True, False)]
    torch.save(torch.stack(losses), f"{folder}/rank{rank}.pt")
    dist.destroy_process_group()


def test_masked_mse_across_processes_averages_to_the_global_batchs_loss(tmp_path):
    # DDP applies the mean of the processes' gradients: with the global normaliser that mean is the
    # gradient of the masked MSE over the whole batch, whatever each shard's share of hidden pixels
    # from a fresh interpreter: spawned workers re-run the parent's __main__, which inside a test run can be another
    # test's generated script
    tests = Path(__file__).resolve().parent
    path = os.pathsep.join([str(tests), str(tests.parent), os.environ.get("PYTHONPATH", "")])
    code = "import sys, torch.multiprocessing as mp, test_model_losses_metrics as t; " \
        "mp.spawn(t.shard_losses, args=(2, sys.argv[1]), nprocs=2)"
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], env={**os.environ, "PYTHONPATH": path}, check=True,
                   timeout=300)
    shards = torch.stack([torch.load(Path(tmp_path) / f"rank{rank}.pt") for rank in range(2)])
    whole = masked_mse(*uneven_halves())
    torch.testing.assert_close(shards[:, 0].mean(), whole)
    assert abs(float(shards[:, 1].mean() - whole)) > 1e-3  # each shard's own normaliser would be biased
    assert float(masked_mse(*uneven_halves(), across_processes=True)) == float(whole)  # one process: the same


def test_error_map_and_psnr():
    target = torch.zeros(2, 3, 4, 4)
    reconstruction = torch.full_like(target, 0.1)
    assert torch.allclose(error_map(reconstruction, target), torch.full((2, 1, 4, 4), 0.01))
    assert torch.allclose(psnr(reconstruction, target), torch.full((2,), 20.0))


def test_pooled_psnr_is_one_number_over_a_region_of_every_image():
    """One MSE over the region's pixels in all images, then one PSNR: not the mean of per-image PSNRs."""
    target = torch.zeros(2, 3, 4, 4)
    reconstruction = target.clone()
    reconstruction[0] = 0.1  # image 0: MSE 0.01 everywhere; image 1 exact
    region = torch.zeros(2, 1, 4, 4)
    region[0, :, :2] = 1  # 8 pixels of image 0
    region[1, :, :, :2] = 1  # 8 pixels of image 1
    assert float(psnr(reconstruction, target, region, pooled=True)) == pytest.approx(23.0103, abs=1e-4)  # MSE 0.005
    assert psnr(reconstruction, target, region).tolist() == [pytest.approx(20.0), float("inf")]
    assert float(psnr(reconstruction, target, pooled=True)) == pytest.approx(23.0103, abs=1e-4)  # default: all
    assert torch.isinf(psnr(target, target, region, pooled=True))  # exact
    assert torch.isnan(psnr(reconstruction, target, torch.zeros_like(region), pooled=True))  # empty region


def test_decorrelation_equals_brute_force_without_the_big_matrix():
    latents = torch.randn(37, 8, 3, 3, generator=torch.Generator().manual_seed(0)).relu()
    assert decorrelation(latents) == pytest.approx(brute_force_decorrelation(latents), rel=1e-9)
    assert decorrelation(latents, denominator=511) == pytest.approx(brute_force_decorrelation(latents, 511), rel=1e-9)


def test_decorrelation_of_independent_units_is_small_and_of_copies_is_large():
    independent = torch.randn(2000, 16, generator=torch.Generator().manual_seed(0))
    assert decorrelation(independent) < 0.02
    copies = independent[:, :1].repeat(1, 16)
    assert decorrelation(copies) == pytest.approx(15.0, rel=1e-3)  # 16 * 15 entries of ~1, over 16 units


def test_sparsity_matches_the_reference_formula_and_its_extremes():
    latents = torch.rand(64, 4, 2, 2, generator=torch.Generator().manual_seed(0)) ** 4
    flat = latents.reshape(64, -1).double()
    unit = (1 - (flat.mean(0) ** 2 + 1e-7) / ((flat**2).mean(0) + 1e-7)).mean()
    population = (1 - (flat.mean(1) ** 2 + 1e-7) / ((flat**2).mean(1) + 1e-7)).mean()
    assert sparsity(latents) == pytest.approx((float(unit), float(population)))
    assert sparsity(torch.ones(8, 5)) == pytest.approx((0.0, 0.0))
    one_hot = torch.eye(8)
    assert sparsity(one_hot)[1] == pytest.approx(1 - 1 / 8, rel=1e-5)
