"""The shipped demo checkpoints: one per mode the app offers, small, labelled as demos, and trained."""

from __future__ import annotations

import pytest
import torch

from focusmim_core import default_checkpoint, gallery_images, list_checkpoints, load_checkpoint, mask_images
from focusmim_core.checkpoints import SHIPPED_DIR
from focusmim_core.losses import per_sample_masked_mse
from focusmim_core.model import Autoencoder
from focusmim_core.render import reconstruct
from focusmim_core.runs import RANDOM_INIT_PROBE
from train.ship_demo import DEMOS, write_table


@pytest.mark.parametrize("spec", DEMOS, ids=[spec.name for spec in DEMOS])
def test_each_shipped_checkpoint_is_a_small_labelled_demo_that_beats_an_untrained_model(spec):
    path = SHIPPED_DIR / f"{spec.name}.safetensors"
    assert path.is_file(), f"missing shipped checkpoint {path.name}: run python -m train.ship_demo"
    assert path.stat().st_size <= 6_000_000
    model, meta = load_checkpoint(path)
    assert meta.demo and meta.mode == spec.mode and meta.fill == spec.fill
    assert meta.extra.get("command", "").startswith("python -m train.pretrain")
    _, photos = gallery_images()  # held out from training
    inputs, loss_mask = mask_images(photos, spec.mode, spec.ratio, fill=spec.fill)
    torch.manual_seed(0)
    trained_error = per_sample_masked_mse(reconstruct(model, inputs)[0], photos, loss_mask).mean()
    untrained_error = per_sample_masked_mse(reconstruct(Autoencoder(), inputs)[0], photos, loss_mask).mean()
    assert trained_error < 0.8 * untrained_error


def test_the_app_finds_a_default_checkpoint_for_every_mode_and_fill():
    shipped = list_checkpoints()
    for spec in DEMOS:
        chosen = default_checkpoint(spec.mode, spec.fill, shipped)
        assert chosen is not None and chosen.path.stem == spec.name


def test_the_checkpoint_table_lists_every_shipped_checkpoint(tmp_path):
    for spec in DEMOS:
        target = tmp_path / f"{spec.name}.safetensors"
        target.write_bytes((SHIPPED_DIR / f"{spec.name}.safetensors").read_bytes())
        target.with_suffix(".json").write_text((SHIPPED_DIR / f"{spec.name}.json").read_text())
    (tmp_path / RANDOM_INIT_PROBE).write_text((SHIPPED_DIR / RANDOM_INIT_PROBE).read_text())
    text = write_table(tmp_path).read_text()
    assert text == (SHIPPED_DIR / "README.md").read_text()  # the committed table is up to date
    for spec in DEMOS:
        assert f"| `{spec.name}` |" in text


def test_square_periphery_borrows_the_periphery_checkpoint():
    chosen = default_checkpoint("periphery_square", "mean")
    assert chosen is not None and chosen.metadata.mode == "periphery" and chosen.metadata.fill == "mean"
