"""ConvNeXt-V2-Pico (paper 3.5): masked positions never reach a visible feature, the central cells of
the periphery, the trainer's --arch with the paper's defaults, checkpoints that load as what they are."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import shown

import train.pretrain as pretrain
from focusmim_core import load_checkpoint
from focusmim_core.architectures import ARCHITECTURES, build_model
from focusmim_core.checkpoints import read_metadata, sidecar_path
from focusmim_core.convnext import ConvNeXtMAE, visible_cells
from focusmim_core.errors import CheckpointError
from focusmim_core.masking import mask_images, visible_pixels
from focusmim_core.pretraining import make_optimizer


@pytest.fixture(scope="module")
def model() -> ConvNeXtMAE:
    """A seeded, untrained ConvNeXt MAE in eval mode."""
    torch.manual_seed(0)
    return ConvNeXtMAE().eval()


@pytest.mark.parametrize(("mode", "ratio"), [("random_patches", 0.6), ("periphery_square", 0.8), ("periphery", 0.8)])
def test_a_masked_pixel_never_changes_a_visible_feature(model, mode, ratio):
    images = torch.rand(2, 3, 96, 96, generator=torch.Generator().manual_seed(1))
    inputs, loss_mask = mask_images(images, mode, ratio, generator=torch.Generator().manual_seed(2))
    visible = visible_pixels(loss_mask, mode)
    hidden_cells = 1.0 - visible_cells(visible)
    changed = inputs + 0.7 * torch.rand_like(inputs) * torch.nn.functional.interpolate(hidden_cells, size=96)
    assert not torch.equal(changed, inputs)
    with torch.no_grad():
        before, _ = model.stages(inputs, visible)
        after, _ = model.stages(changed, visible)
        recon_before, _ = model(inputs, visible)
        recon_after, _ = model(changed, visible)
    for a, b in zip(before, after, strict=True):
        assert torch.equal(a, b)  # masked positions are zero everywhere; visible ones never read them
    assert torch.equal(recon_before, recon_after)
    with torch.no_grad():  # without the mask the same change does reach the features: the test can fail
        assert not torch.equal(model.encode(inputs), model.encode(changed))


def test_the_periphery_of_this_architecture_is_the_central_six_by_six_cells():
    _, loss_mask = mask_images(torch.rand(1, 3, 96, 96), "periphery_square", 0.8)
    cells = visible_cells(visible_pixels(loss_mask, "periphery_square"))[0, 0]
    expected = torch.zeros(12, 12)
    expected[3:9, 3:9] = 1
    assert torch.equal(cells, expected)  # 36 of 144 cells, pixels 24-71


def test_shapes_the_app_and_the_probe_read(model):
    x = torch.rand(3, 3, 96, 96)
    with torch.no_grad():
        reconstruction, latent = model(x)
        assert reconstruction.shape == (3, 3, 96, 96) and reconstruction.min() > 0 and reconstruction.max() < 1
        assert latent.shape == (3, 128, 12, 12) and torch.equal(model.encode(x), latent)
        assert model.probe_features(x).shape == (3, 4608)


def test_adamw_spares_biases_norms_and_the_mask_token():
    net = build_model("convnextv2_pico")
    optimizer = make_optimizer("adamw", net, 1e-3, 0.05)
    decayed, spared = optimizer.param_groups
    assert decayed["weight_decay"] == 0.05 and spared["weight_decay"] == 0.0
    assert all(p.ndim > 1 for p in decayed["params"]) and any(p is net.mask_token for p in spared["params"])
    assert len(decayed["params"]) + len(spared["params"]) == len(list(net.parameters()))


def test_the_arch_brings_the_papers_settings_unless_given():
    config = pretrain.parse_config(["--arch", "convnextv2_pico", "--dataset", "synthetic"])
    assert (config.optimizer, config.weight_decay, config.schedule, config.epochs) == ("adamw", 0.05, "cosine", 370)
    assert config.warmup == pytest.approx(20 / 370) and config.hflip and config.learning_rate == 5e-4
    given = pretrain.parse_config(["--arch", "convnextv2_pico", "--learning-rate", "1e-3", "--epochs", "500"])
    assert given.learning_rate == 1e-3 and given.epochs == 500 and given.optimizer == "adamw"
    assert pretrain.parse_config([]).optimizer == "adam" and pretrain.parse_config([]).arch == "cnn_mae"
    assert set(ARCHITECTURES) == {"cnn_mae", "convnextv2_pico"}


@pytest.mark.slow
def test_a_tiny_convnext_run_trains_and_loads_as_convnext(tmp_path, capsys, monkeypatch):
    out = tmp_path / "convnext"
    argv = ["--arch", "convnextv2_pico", "--dataset", "synthetic", "--size", "32", "--batch-size", "16"]
    argv += ["--epochs", "3", "--warmup", "0", "--learning-rate", "1e-3", "--masking-mode", "periphery_square"]
    argv += ["--masking-ratio", "0.8", "--device", "cpu", "--output-path", str(out)]
    assert pretrain.main(argv) == 0
    losses = [json.loads(line)["loss"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(losses) == 3 and losses[-1] < losses[0]
    model, meta = load_checkpoint(out / "best.safetensors")
    assert isinstance(model, ConvNeXtMAE) and meta.arch == "convnextv2_pico" and meta.mode == "periphery_square"
    assert "convnextv2_pico" in meta.title()
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("FOCUSMIM_CHECKPOINTS", str(out))  # the trained run, opened in the app
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=120)
    at.query_params.update({"mode": "periphery_square", "ratio": "0.8", "ckpt": "convnext/best"})
    at.run()
    assert not at.exception, at.exception
    text = " ".join(shown(str(e.value)) for e in [*at.caption, *at.markdown, *at.info])
    assert "convnext/best" in text and "not found" not in text
    assert pretrain.main([*argv[:-2], "--output-path", str(tmp_path / "cnn"), "--arch", "cnn_mae",
                          "--init-from", str(out / "best.safetensors")]) == 2  # fmt: skip
    assert "holds a convnextv2_pico network, not cnn_mae: give --arch convnextv2_pico" in capsys.readouterr().err


def test_an_unknown_arch_in_metadata_is_named(tmp_path):
    from focusmim_core import CheckpointMetadata, save_checkpoint

    path = tmp_path / "x.safetensors"
    save_checkpoint(path, build_model("cnn_mae"), CheckpointMetadata())
    values = json.loads(sidecar_path(path).read_text())
    sidecar_path(path).write_text(json.dumps({**values, "arch": "vit_huge"}))
    with pytest.raises(CheckpointError, match="x.json is not valid .*'arch' is 'vit_huge', not a known architecture"):
        load_checkpoint(path)
    sidecar_path(path).unlink()
    assert read_metadata(path).arch == "cnn_mae"  # the header's copy of the metadata still says what it is
