"""Checkpoints: safetensors + JSON round trips, reference imports, and refusals with clear messages."""

from __future__ import annotations

import html
import json
import os
import re

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
from focusmim_core.checkpoints import CheckpointInfo, read_metadata, sidecar_path


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


def nested(depth: int) -> str:
    """A JSON list nested ``depth`` levels deep, as text (too deep for any recursive walk)."""
    return "[" * depth + "]" * depth


def write_header_metadata(path, text: str) -> None:
    """A safetensors file of the autoencoder whose header holds ``text`` as its FocusMIM metadata."""
    from safetensors.torch import save_file

    from focusmim_core.checkpoints import METADATA_KEY

    save_file({k: v.contiguous() for k, v in seeded_model().state_dict().items()}, str(path), {METADATA_KEY: text})


def test_metadata_nested_thousands_deep_is_listed_as_broken_never_raised(tmp_path):
    """Beside the weights or in their header: the folder still lists, and the file is refused with a reason."""
    from focusmim_core.explorer.catalog import describe, details_markdown

    sound = save_checkpoint(tmp_path / "sound", seeded_model(), CheckpointMetadata(mode="none", epochs=1))
    beside = save_checkpoint(tmp_path / "beside", seeded_model(), CheckpointMetadata(mode="none", epochs=90))
    sidecar_path(beside).write_text('{"mode": "none", "epochs": 90, "extra": {"x": ' + nested(100_000) + "}}")
    write_header_metadata(tmp_path / "header.safetensors", '{"mode": "none", "epochs": 90, "x": ' + nested(50) + "}")
    found = {info.path.stem: info for info in list_checkpoints(tmp_path)}
    assert found["sound"].error is None and found["sound"].path == sound
    for stem in ("beside", "header"):
        assert "deeper than" in found[stem].error and stem in found[stem].error and not found[stem].described
        with pytest.raises(CheckpointError, match="deeper than"):
            load_checkpoint(found[stem].path)
        assert details_markdown(describe(found[stem]))  # a page can still show what little is known
    assert default_checkpoint("none", "mean", list(found.values())).path == sound


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"metrics": {"probe": "87 %"}}, "'metrics.probe' must be dict, not str"),
        ({"metrics": {"probe": {"accuracy_mean": "high"}}}, "'metrics.probe.accuracy_mean' must be int or float"),
        ({"metrics": {"probe": {"accuracies": [0.5, None]}}}, "'metrics.probe.accuracies[1]' must be int or float"),
        ({"metrics": {"probe_runs": {"a/linear": {"seeds": [0, "1"]}}}}, "'metrics.probe_runs.a/linear.seeds[1]'"),
        ({"metrics": {"probe_runs": [1]}}, "'metrics.probe_runs' must be dict, not list"),
        ({"metrics": {"gallery": {"psnr_whole": [12]}}}, "'metrics.gallery.psnr_whole' must be int or float"),
        ({"extra": {"images_seen": "lots"}}, "'extra.images_seen' must be int, not str"),
        ({"extra": {"history": ["yesterday"]}}, "'extra.history[0]' must be dict, not str"),
        ({"extra": {"history": [{"images": 1.5}]}}, "'extra.history[0].images' must be int, not float"),
    ],
)
def test_a_wrong_type_inside_nested_metadata_is_refused_by_its_path(tmp_path, fields, named):
    """The nested records the pages read (probe results, held-out report, training history) are checked too:
    the file is listed as broken, and describing or choosing it never fails."""
    from focusmim_core.explorer.catalog import AUTO, choose, describe, details_markdown

    path = save_checkpoint(tmp_path / "odd", seeded_model(), CheckpointMetadata(mode="periphery", ratio=0.8))
    sidecar_path(path).write_text(json.dumps({"mode": "periphery", "ratio": 0.8, "epochs": 999, **fields}))
    with pytest.raises(CheckpointError, match="odd.json is not valid checkpoint metadata") as raised:
        read_metadata(path)
    assert named in str(raised.value)
    [info] = list_checkpoints(tmp_path)
    assert named in info.error and not info.described
    assert details_markdown(describe(info)) and choose(AUTO, "periphery", "mean", [info]).info is None


def test_oversized_metadata_is_refused_unread(tmp_path):
    path = save_checkpoint(tmp_path / "big", seeded_model(), CheckpointMetadata())
    sidecar_path(path).write_text(json.dumps({"mode": "none", "description": "x" * 2_000_000}))
    [info] = list_checkpoints(tmp_path)
    assert "big.json is not valid checkpoint metadata: it is larger than" in info.error


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("notes.pt", b"hello, these are my notes\nnot a checkpoint\n"),  # the safe unpickler raised KeyError
        ("empty.pth", b""),
        ("noise.bin", bytes(range(256)) * 8),
        ("cut.pt", b"\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01"),  # a pickle that stops mid-way
        ("text.safetensors", b"hello, these are my notes\n"),
    ],
)
def test_any_unreadable_weights_file_is_a_checkpoint_error_naming_it(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=f"({name} is not a readable|Refused to load {name})") as raised:
        load_checkpoint(path)
    assert "\n" not in str(raised.value)
    [info] = list_checkpoints(tmp_path)
    assert info.error and name in info.error and not info.described


@pytest.mark.parametrize("kind", ["safetensors", "pt"])
def test_auto_never_prefers_a_cut_file_whose_metadata_claims_more_epochs(tmp_path, kind):
    """A copy cut short keeps its full JSON (900 epochs); the sound 5-epoch checkpoint is still the one chosen."""
    from focusmim_core.explorer.catalog import AUTO, choose

    sound = save_checkpoint(tmp_path / "sound", seeded_model(), CheckpointMetadata(mode="periphery", epochs=5))
    claimed = CheckpointMetadata(mode="periphery", epochs=900, save_id="")
    if kind == "safetensors":
        whole = save_checkpoint(tmp_path / "whole", seeded_model(1), claimed)
        cut = tmp_path / "cut.safetensors"
        cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
        whole.unlink()
        sidecar_path(whole).rename(sidecar_path(cut))
    else:
        whole = tmp_path / "whole.pt"
        torch.save(seeded_model(1).state_dict(), whole)
        cut = tmp_path / "cut.pt"
        cut.write_bytes(whole.read_bytes()[:5000])
        whole.unlink()
        sidecar_path(cut).write_text(json.dumps(claimed.to_dict()))
    found = list_checkpoints(tmp_path)
    assert next(c for c in found if c.path == cut).error  # listed apart, with its reason
    assert default_checkpoint("periphery", "mean", found).path == sound
    assert choose(AUTO, "periphery", "mean", found).info.path == sound
    assert load_checkpoint(choose(AUTO, "periphery", "mean", found).info.path)[1].epochs == 5


HOSTILE_TEXT = (
    "[click](http://evil.example/x) ![](http://evil.example/pixel.png) <img src=http://evil.example/i.png> "
    "www.evil.example | # heading `code`"
)


def html_of(markdown: str) -> str:
    """Markdown as a CommonMark renderer (with tables) turns it into HTML."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable("table").render(markdown)


def hostile_checkpoint(folder) -> CheckpointInfo:
    """A demo checkpoint whose free-text metadata is Markdown that would link and load images."""
    meta = CheckpointMetadata(mode="none", data=HOSTILE_TEXT, description=HOSTILE_TEXT, demo=True)
    save_checkpoint(folder / "hostile", seeded_model(), meta)
    [info] = list_checkpoints(folder)
    return info


def assert_shown_as_text(markdown: str) -> None:
    shown = html_of(markdown)
    assert "<a " not in shown and "<img" not in shown and "<h1" not in shown
    assert HOSTILE_TEXT in html.unescape(re.sub(r"<[^>]+>", "", shown))  # every character, backticks too, as text


def test_metadata_text_reaches_markdown_as_text_never_a_link_or_image(tmp_path):
    """Explore's details table and the stand-in note (Streamlit caption, Gradio notes) echo metadata as text."""
    from focusmim_core.explorer.catalog import AUTO, choose, describe, details_markdown

    info = hostile_checkpoint(tmp_path)
    assert HOSTILE_TEXT in describe(info)["data"]  # tables (plain text) get the value itself
    assert_shown_as_text(details_markdown(describe(info)))
    assert_shown_as_text(choose(AUTO, "foveate", "mean", [info]).substitute)


def test_the_demo_notice_on_explore_and_compare_shows_metadata_as_text(tmp_path):
    from streamlit.testing.v1 import AppTest

    def page(folder: str) -> None:
        from focusmim_core.checkpoints import list_checkpoints
        from ui.widgets import checkpoint_notice

        checkpoint_notice(list_checkpoints(folder))

    hostile_checkpoint(tmp_path)
    at = AppTest.from_function(page, args=(str(tmp_path),), default_timeout=60).run()
    assert not at.exception and len(at.info) == 1
    assert_shown_as_text(at.info[0].value)


@pytest.mark.parametrize("cli", ["evaluate", "probe"])
def test_a_text_file_given_as_a_checkpoint_to_a_cli_gets_one_line_and_exit_2(tmp_path, capsys, cli):
    import importlib

    path = tmp_path / "notes.pt"
    path.write_text("just some notes, not weights\n")
    extra = ["--dataset", "synthetic", "--limit", "10", "--seeds", "1"] if cli == "probe" else []
    assert importlib.import_module(f"train.{cli}").main([str(path), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: notes.pt is not a readable PyTorch checkpoint") and err.count("\n") == 1
