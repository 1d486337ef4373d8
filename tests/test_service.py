"""The explorer service both front-ends call: views of bundled images are drawn once per checkpoint version."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

import focusmim_core.explorer.catalog as catalog
from focusmim_core import MODES, CheckpointMetadata, save_checkpoint
from focusmim_core.checkpoints import list_checkpoints
from focusmim_core.errors import InputError
from focusmim_core.explorer.catalog import untrained_model
from focusmim_core.explorer.service import (
    MAX_FIXATIONS,
    compare_item,
    item_for,
    render_item,
    render_view,
    scanpath_item,
    sweep_item,
)
from focusmim_core.explorer.sources import ImageItem, gallery_item
from focusmim_core.explorer.viewstate import FOLDERLESS_SOURCES, IMAGE_SOURCES, ViewState


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


def test_the_same_view_of_another_image_is_not_taken_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(catalog, "SHIPPED_DIR", tmp_path / "none")
    monkeypatch.setenv("FOCUSMIM_CHECKPOINTS", str(tmp_path / "none"))
    view = ViewState(source="stl10", image="3", fixation=(48, 48))  # STL-10 image 3 of two different folders
    first = render_item(ImageItem(torch.rand(3, 96, 96, generator=torch.Generator().manual_seed(0)), "a/3"), view)
    other = render_item(ImageItem(torch.rand(3, 96, 96, generator=torch.Generator().manual_seed(1)), "b/3"), view)
    assert not other.panels.masked_input.equal(first.panels.masked_input)


def test_compare_and_scanpath_say_which_checkpoint_each_mode_used(tmp_path, monkeypatch):
    folder = tmp_path / "ckpts"
    for name, mode, seed in (("periphery_0.8", "periphery", 1), ("foveate", "foveate", 2)):
        save_checkpoint(folder / f"{name}.safetensors", untrained_model(seed=seed),
                        CheckpointMetadata(mode=mode, ratio=0.8, epochs=1))  # fmt: skip
    monkeypatch.setattr(catalog, "SHIPPED_DIR", tmp_path / "none")
    monkeypatch.setenv("FOCUSMIM_CHECKPOINTS", str(folder))
    item = gallery_item("coffee")
    view = ViewState(image="coffee", fixation=(30, 40), ratio=0.7)
    compared = compare_item(item, view, find=lambda pixels: "no segmenter in this test.")
    assert compared.modes == list(MODES) and len(compared.panels) == len(MODES)
    assert compared.names["periphery"] == "ckpts/periphery_0.8" and compared.names["foveate"] == "ckpts/foveate"
    assert any(note.startswith("No checkpoint was trained for random_patches") for note in compared.substitutions)
    assert compared.notes == []  # stand-ins are not problems
    assert compared.foreground_note and "no segmenter in this test." in compared.foreground_note
    by_mode = dict(zip(compared.modes, compared.panels, strict=True))
    assert by_mode["periphery"].settings.ratio == 0.7 and by_mode["none"].settings.fixation == (30, 40)
    (caveat,) = compared.view_caveats()  # both trained at the centre (the default), one note names them
    assert caveat.startswith("ckpts/foveate, ckpts/periphery_0.8 were trained with the eye at the centre")
    assert compared.caveats == [*compared.substitutions, caveat]  # things to know, after the problems
    assert compared.messages() == [*compared.notes, *compared.caveats, compared.foreground_note]
    centred = compare_item(item, ViewState(image="coffee"), find=lambda pixels: "none.")
    assert centred.view_caveats() == []  # where they were trained
    result = scanpath_item(item, view, [(30, 40), (60, 60)], find=lambda pixels: "none here.")
    assert result.checkpoint is not None and result.checkpoint.name == "ckpts/periphery_0.8"
    (caveat,) = result.caveats
    assert caveat.startswith("ckpts/periphery_0.8 was trained")
    assert scanpath_item(item, view, [(48, 48)], find=lambda pixels: "none.").caveats == []
    assert len(result.glimpses) == 2 and result.metric == "masked MSE" and len(result.curves) == 3
    untrained = scanpath_item(item, view, [(30, 40)], checkpoints=[], find=lambda pixels: "none.")
    speck, half = np.zeros((96, 96), np.float32), np.zeros((96, 96), np.float32)
    speck[10:15, 10:15], half[:48] = 1.0, 1.0  # 0.3 % and 50 % of the image
    (note,) = scanpath_item(item, view, [(48, 48)], find=lambda pixels: speck).caveats
    assert note.startswith("The foreground map (rembg) covers only 0.3% of this image")
    assert scanpath_item(item, view, [(48, 48)], find=lambda pixels: half).caveats == []
    assert untrained.checkpoint is None and any("untrained" in note for note in untrained.notes)


def test_a_checkpoint_trained_at_the_centre_alone_says_so_when_fixated_elsewhere(tmp_path):
    for name, fixation in (("centre", "center"), ("anywhere", "uniform")):
        meta = CheckpointMetadata(mode="periphery", ratio=0.8, epochs=1, fixation=fixation)
        save_checkpoint(tmp_path / f"{name}.safetensors", untrained_model(seed=1), meta)
    listed = list_checkpoints(tmp_path)
    item, find = gallery_item("coffee"), lambda pixels: "no segmenter in this test."

    def notes(checkpoint: str, mode: str, fixation: tuple[int, int]) -> list[str]:
        view = ViewState(image="coffee", mode=mode, fixation=fixation, checkpoint=checkpoint)
        rendered = render_item(item, view, listed, find)
        assert rendered.caveats == [n for n in rendered.messages() if "trained with the eye at the centre" in n]
        return rendered.view_caveats()

    (note,) = notes(f"{tmp_path.name}/centre", "periphery", (30, 40))
    assert note.startswith(f"{tmp_path.name}/centre was trained") and "--by-fixation" in note
    assert notes(f"{tmp_path.name}/centre", "periphery", (48, 48)) == []  # where it was trained
    assert notes(f"{tmp_path.name}/centre", "random_patches", (30, 40)) == []  # the fixation plays no part
    assert notes(f"{tmp_path.name}/anywhere", "periphery", (30, 40)) == []  # trained on every fixation


def test_bad_choices_are_refused_with_a_message_naming_the_field_and_the_allowed_values():
    with pytest.raises(InputError, match="gallery=`unicorn` is not accepted: gallery must be one of cat"):
        item_for(ViewState(image="unicorn"))
    item, view, find = gallery_item("coffee"), ViewState(image="coffee"), lambda pixels: "none."
    with pytest.raises(InputError, match="metric=`psnr` is not accepted: metric must be one of masked_mse"):
        sweep_item(item, view, "psnr", checkpoints=[], find=find)
    with pytest.raises(InputError, match=f"at most {MAX_FIXATIONS} fixations, not {MAX_FIXATIONS + 1}"):
        scanpath_item(item, view, [(k, k) for k in range(MAX_FIXATIONS + 1)], checkpoints=[], find=find)


def test_the_service_refuses_the_sources_that_need_a_data_folder_naming_the_ones_it_offers():
    folder_sources = [name for name, source in IMAGE_SOURCES.items() if source.needs_data_folder]
    assert folder_sources and set(FOLDERLESS_SOURCES) == set(IMAGE_SOURCES) - set(folder_sources)
    for name in folder_sources:
        with pytest.raises(InputError, match=", ".join(FOLDERLESS_SOURCES)):
            item_for(ViewState(source=name, image="0"))
