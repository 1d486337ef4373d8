"""Checkpoints: safetensors + JSON round trips, reference imports, and refusals with clear messages."""

from __future__ import annotations

import json
import os

import pytest
import torch

from focusmim_core import (
    Autoencoder,
    CheckpointError,
    CheckpointMetadata,
    default_checkpoint,
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
)
from focusmim_core.checkpoints import read_metadata, sidecar_path


def seeded_model(seed: int = 0) -> Autoencoder:
    torch.manual_seed(seed)
    return Autoencoder()


def test_round_trip_keeps_weights_and_metadata(tmp_path):
    model = seeded_model()
    metadata = CheckpointMetadata(
        mode="periphery",
        ratio=0.8,
        fill="blur",
        data="synthetic",
        epochs=3,
        learning_rate=1e-3,
        seed=4,
        metrics={"loss": 0.01},
        extra={"note": "x"},
    )
    path = save_checkpoint(tmp_path / "run" / "best", model, metadata)
    assert path.name == "best.safetensors" and sidecar_path(path).is_file()
    loaded, loaded_meta = load_checkpoint(path)
    assert not loaded.training
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    assert loaded_meta.mode == "periphery" and loaded_meta.fill == "blur" and loaded_meta.metrics == {"loss": 0.01}
    assert loaded_meta.extra == {"note": "x"} and loaded_meta.code_version and loaded_meta.date


def test_the_weights_file_alone_carries_its_metadata(tmp_path):
    path = save_checkpoint(tmp_path / "lonely.safetensors", seeded_model(), CheckpointMetadata(mode="foveate"))
    sidecar_path(path).unlink()
    assert load_checkpoint(path)[1].mode == "foveate"


def test_half_precision_files_are_small_and_load_as_float32(tmp_path):
    model = seeded_model()
    path = save_checkpoint(tmp_path / "small", model, CheckpointMetadata(), dtype=torch.float16)
    assert path.stat().st_size < 6 * 1024 * 1024
    loaded, _ = load_checkpoint(path)
    weight = loaded.state_dict()["encoder.0.conv1.weight"]
    assert weight.dtype == torch.float32
    assert torch.allclose(weight, model.state_dict()["encoder.0.conv1.weight"], atol=1e-3)


@pytest.mark.parametrize("wrap", ["plain", "state_dict", "ddp"])
def test_reference_pt_state_dicts_import(tmp_path, wrap):
    model = seeded_model(1)
    state = model.state_dict()
    if wrap == "state_dict":
        state = {"state_dict": state, "epoch": 3}
    elif wrap == "ddp":
        state = {f"module.{k}": v for k, v in state.items()}
    path = tmp_path / "model_best.pt"
    torch.save(state, path)
    loaded, metadata = load_checkpoint(path)
    assert torch.equal(
        loaded.state_dict()["decoder.16.upconv2.weight"], model.state_dict()["decoder.16.upconv2.weight"]
    )
    assert metadata.source == "reference"


def test_wrong_architecture_is_named(tmp_path):
    path = tmp_path / "resnet.pt"
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7), "fc.weight": torch.zeros(10, 512)}, path)
    with pytest.raises(CheckpointError, match=r"not a checkpoint of the CNN autoencoder.*missing.*unexpected"):
        load_checkpoint(path)
    state = Autoencoder().state_dict()
    state["encoder.0.conv1.weight"] = torch.zeros(16, 3, 3, 3)
    torch.save(state, path)
    with pytest.raises(CheckpointError, match="wrong shape.*encoder.0.conv1.weight"):
        load_checkpoint(path)


def test_truncated_files_are_refused(tmp_path):
    good = save_checkpoint(tmp_path / "good", seeded_model(), CheckpointMetadata())
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    with pytest.raises(CheckpointError, match="truncated or damaged"):
        load_checkpoint(truncated)
    pt = tmp_path / "model.pt"
    torch.save(Autoencoder().state_dict(), pt)
    cut = tmp_path / "cut.pt"
    cut.write_bytes(pt.read_bytes()[:5000])
    with pytest.raises(CheckpointError, match="truncated or damaged"):
        load_checkpoint(cut)


class Exploit:
    """Unpickling this would run a shell command."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_that_runs_code_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"encoder.0.conv1.weight": Exploit(marker)}, path)
    with pytest.raises(CheckpointError, match="Refused to load evil.pt"):
        load_checkpoint(path)
    assert not marker.exists()


def test_missing_file_message(tmp_path):
    with pytest.raises(CheckpointError, match="No checkpoint at"):
        load_checkpoint(tmp_path / "nope.safetensors")


def test_listing_and_default_choice(tmp_path):
    save_checkpoint(tmp_path / "a", seeded_model(), CheckpointMetadata(mode="periphery", fill="mean", epochs=5))
    save_checkpoint(tmp_path / "b", seeded_model(), CheckpointMetadata(mode="periphery", fill="blur", epochs=50))
    save_checkpoint(tmp_path / "c", seeded_model(), CheckpointMetadata(mode="random_patches", epochs=9))
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "broken.safetensors").write_bytes(b"xx")
    found = list_checkpoints(tmp_path)
    assert sorted(c.path.stem for c in found) == ["a", "b", "broken", "c"]
    broken = next(c for c in found if c.path.stem == "broken")
    assert "not valid checkpoint metadata" in broken.error and not broken.described
    assert default_checkpoint("periphery", "mean", found).path.stem == "a"
    assert default_checkpoint("periphery", "blur", found).path.stem == "b"
    assert default_checkpoint("foveate", "mean", found) is None


def test_sidecar_json_is_plain_readable_json(tmp_path):
    path = save_checkpoint(tmp_path / "x", seeded_model(), CheckpointMetadata(mode="none", epochs=2))
    values = json.loads(sidecar_path(path).read_text())
    assert values["mode"] == "none" and values["epochs"] == 2


@pytest.mark.parametrize(
    ("sidecar", "fragment"),
    [
        ("[1, 2, 3]", "must be a JSON object, not list"),
        ('"periphery"', "must be a JSON object, not str"),
        ('{"mode": "periphery", "epochs": "many"}', "'epochs' must be int, not str"),
        ('{"mode": "periphery", "metrics": [0.1]}', "'metrics' must be dict, not list"),
        ('{"mode": "periphery", "demo": "yes"}', "'demo' must be bool, not str"),
        ('{"mode": "periphery", "ratio": true}', "'ratio' must be int or float, not bool"),
        ('{"mode": ["periphery"]}', "'mode' must be str, not list"),
        ('{"mode": "zoom"}', "not a known masking mode"),
        ('{"mode": "periphery", "fill": "noise"}', "not mean or blur"),
        ('{"mode": "periphery", "ratio": 4}', "between 0 and 1"),
    ],
)
def test_metadata_of_the_wrong_shape_is_refused_naming_file_and_field(tmp_path, sidecar, fragment):
    path = save_checkpoint(tmp_path / "odd", seeded_model(), CheckpointMetadata(mode="periphery", epochs=5))
    sidecar_path(path).write_text(sidecar)
    with pytest.raises(CheckpointError, match="odd.json") as raised:
        load_checkpoint(path)
    assert fragment in str(raised.value)
    listed = list_checkpoints(tmp_path)
    assert [c.error is not None for c in listed] == [True] and fragment in listed[0].error


def test_unreadable_or_undescribed_files_never_become_the_default(tmp_path):
    save_checkpoint(tmp_path / "real", seeded_model(), CheckpointMetadata(mode="none", epochs=2, demo=True))
    (tmp_path / "hostile.safetensors").write_bytes(b"\x00" * 64)  # no metadata at all: a stub that is not a demo
    torch.save(seeded_model().state_dict(), tmp_path / "reference.pt")  # a reference file: loadable, mode unknown
    bad = save_checkpoint(tmp_path / "typed", seeded_model(), CheckpointMetadata(mode="none", epochs=900))
    sidecar_path(bad).write_text('{"mode": "none", "epochs": "900"}')
    found = list_checkpoints(tmp_path)
    assert len(found) == 4
    assert default_checkpoint("none", "mean", found).path.stem == "real"
    assert {c.path.stem for c in found if c.described} == {"real"}


def test_files_with_the_same_stem_get_their_own_names(tmp_path):
    save_checkpoint(tmp_path / "x", seeded_model(), CheckpointMetadata(mode="periphery", ratio=0.8))
    torch.save(seeded_model(1).state_dict(), tmp_path / "x.pt")
    names = [info.name for info in list_checkpoints(tmp_path)]
    assert len(set(names)) == 2 and any(name.endswith("x.pt") for name in names)


def test_a_refusal_quotes_whole_sentences_of_the_library_message():
    from focusmim_core.checkpoints import first_sentence

    long = RuntimeError("Weights only load failed. " + "This file can still be loaded, you have two options " * 9)
    assert first_sentence(long) == "Weights only load failed"
    run_on = RuntimeError("an unbroken explanation that goes on " * 12)
    cut = first_sentence(run_on)
    assert cut.endswith(" …") and len(cut) <= 162 and not cut[:-2].endswith(" ")
    assert all(word in run_on.args[0].split() for word in cut[:-2].split())  # only whole words


def test_a_json_left_from_replaced_weights_gives_way_to_the_header(tmp_path):
    """A crash between writing new weights and their JSON leaves the old JSON: the header's metadata wins."""
    from focusmim_core.probe import ProbeResult, record_probe_result

    path = tmp_path / "run.safetensors"
    save_checkpoint(path, Autoencoder(), CheckpointMetadata(epochs=1, description="first"))
    old_json = sidecar_path(path).read_text()
    save_checkpoint(path, Autoencoder(), CheckpointMetadata(epochs=2, description="second"))
    sidecar_path(path).write_text(old_json)  # as if killed before the JSON was replaced
    assert read_metadata(path).epochs == 2 and read_metadata(path).description == "second"
    save_checkpoint(path, Autoencoder(), CheckpointMetadata(epochs=3))
    record_probe_result(path, ProbeResult("synthetic", [0], [0.5], None, [1], [1], 0.1))  # the JSON alone changes
    meta = read_metadata(path)
    assert meta.epochs == 3 and meta.metrics["probe"]["accuracy_mean"] == 0.5  # same save: the JSON is used
