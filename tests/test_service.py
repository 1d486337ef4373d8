"""The explorer service both front-ends call: views of bundled images are drawn once per checkpoint version."""

from __future__ import annotations

import os

import focusmim_core.explorer.catalog as catalog
from focusmim_core import CheckpointMetadata, save_checkpoint
from focusmim_core.explorer.catalog import untrained_model
from focusmim_core.explorer.service import render_view
from focusmim_core.explorer.viewstate import ViewState


def test_a_repeated_view_is_drawn_once_until_its_checkpoint_changes(tmp_path, monkeypatch):
    folder = tmp_path / "ckpts"
    path = folder / "periphery_0.8.safetensors"
    save_checkpoint(path, untrained_model(seed=1), CheckpointMetadata(mode="periphery", ratio=0.8, epochs=1))
    monkeypatch.setattr(catalog, "SHIPPED_DIR", tmp_path / "none")
    monkeypatch.setenv("FOCUSMIM_CHECKPOINTS", str(folder))
    view = ViewState(image="cat (chelsea)", fixation=(30, 40))
    first = render_view(view)
    assert render_view(view) is first  # the same view: from the cache
    assert render_view(ViewState(image="cat (chelsea)", fixation=(31, 40))) is not first
    save_checkpoint(path, untrained_model(seed=2), CheckpointMetadata(mode="periphery", ratio=0.8, epochs=2))
    os.utime(path, (1e9, 2e9))  # a new file version, whatever the clock's resolution
    again = render_view(view)
    assert again is not first and not again.panels.reconstruction.equal(first.panels.reconstruction)
