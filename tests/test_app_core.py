"""The explorer's core helpers: view <-> URL, sources, checkpoint choice, runs, figures, exports, sweeps."""

from __future__ import annotations

import io
import json
import os
import re

import numpy as np
import pytest
import torch
from PIL import Image

from focusmim_core import MODES, Autoencoder, CheckpointMetadata, DatasetError, InputError, save_checkpoint
from focusmim_core.checkpoints import list_checkpoints
from focusmim_core.data import write_stl10_split
from focusmim_core.experiments import paper_accuracy, paper_condition
from focusmim_core.explorer.catalog import AUTO, choose, describe, details_markdown, untrained_model
from focusmim_core.explorer.export import panel_images, panel_row_png, settings_json
from focusmim_core.explorer.figures import (
    channel_grid_figure,
    colour_map,
    correlation_heatmap,
    draw_markers,
    heatmap_row,
    line_chart,
    marked_image,
    pixelated,
    ratio_sweep_chart,
    rgb_scale,
    segmentation_overlay,
)
from focusmim_core.explorer.latent_batch import BATCH_SOURCES, batch_images, encode_batch, statistics_row
from focusmim_core.explorer.render import render
from focusmim_core.explorer.runs import find_runs, probe_rows, read_run
from focusmim_core.explorer.sources import (
    open_stl10,
    stl10_class_indices,
    stl10_folders,
    stl10_item,
    stl10_root,
    synthetic_item,
)
from focusmim_core.explorer.sweeps import SWEEP_RATIOS, mode_table, ratio_curves, scanpath_curves, sweep_views
from focusmim_core.explorer.viewstate import ViewState, parse_query, scale_click, to_query
from focusmim_core.latent_analysis import channel_grid
from focusmim_core.results import RANDOM_INIT_PROBE, random_init_probe


# --- view <-> URL ---------------------------------------------------------------------------------------------
def test_query_round_trip_reproduces_the_view():
    view = ViewState("synthetic", "17", "test", (10, 80), (60, 20), "periphery_square", 0.65, "blur", "x/y", 1234)
    parsed, messages = parse_query(to_query(view))
    assert parsed == view and messages == []


def test_stl10_view_keeps_its_split():
    view = ViewState(source="stl10", image="4999", split="train")
    assert parse_query(to_query(view))[0] == view


def test_empty_query_gives_defaults_silently():
    assert parse_query({}) == (ViewState(), [])


def test_query_lists_take_the_first_value():
    view, _ = parse_query({"x": ["5", "9"], "y": ["6"]})
    assert view.fixation == (5, 6)


@pytest.mark.parametrize(
    ("params", "field", "fragment"),
    [
        ({"x": "500", "y": "3"}, "fixation", "0..95"),
        ({"x": "abc", "y": "3"}, "fixation", "whole pixel"),
        ({"mode": "fovea"}, "mode", "Unknown masking mode"),
        ({"ratio": "1.5"}, "ratio", "from 0 to 1"),
        ({"ratio": "nan"}, "ratio", "from 0 to 1"),
        ({"fill": "noise"}, "fill", "Unknown fill"),
        ({"src": "web"}, "source", "Unknown image source"),
        ({"src": "gallery", "img": "unicorn"}, "image", "Unknown gallery image"),
        ({"src": "synthetic", "img": "-3"}, "image", "showing image 0"),
        ({"src": "stl10", "img": "12", "split": "val"}, "split", "Unknown STL-10 split"),
        ({"src": "upload"}, "source", "not part of a link"),
        ({"seed": "-1"}, "seed", "whole number from 0"),
        ({"seed": "1e3"}, "seed", "whole number from 0"),
        ({"seed": str(2**31)}, "seed", "whole number from 0"),
    ],
)
def test_nonsense_query_values_fall_back_with_a_message(params, field, fragment):
    view, messages = parse_query(params)
    expected = "0" if params.get("src") == "synthetic" else getattr(ViewState(), field)
    assert getattr(view, field) == expected
    assert any(fragment in m for m in messages), messages


def test_mode_without_ratio_in_link_takes_the_modes_default_ratio():
    assert parse_query({"mode": "random_patches"})[0].ratio == MODES["random_patches"].default_ratio


def test_upload_is_linked_as_the_default_image():
    assert to_query(ViewState(source="upload", image="upload"))["src"] == "gallery"


@pytest.mark.parametrize(
    ("click", "pixel"),
    [((0, 0, 384, 384), (0, 0)), ((383.9, 383.9, 384, 384), (95, 95)), ((200, 100, 384, 384), (50, 25)),
     ((500, -4, 384, 384), (95, 0)), ((10, 10, 192, 96), (5, 10))],
)
def test_clicks_scale_to_image_pixels(click, pixel):
    assert scale_click(*click) == pixel


# --- sources ---------------------------------------------------------------------------------------------------
def test_synthetic_item_has_its_exact_foreground():
    item = synthetic_item(3)
    assert item.image.shape == (3, 96, 96) and item.foreground.shape == (96, 96)
    assert 0 < float(item.foreground.mean()) < 1 and item.label in item.caption


@pytest.fixture
def stl10_folder(tmp_path):
    generator = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (6, 3, 96, 96), generator=generator, dtype=torch.uint8)
    write_stl10_split(tmp_path / "stl10_binary", "test", images, torch.tensor([0, 3, 3, 1, 9, 3]))
    return tmp_path, images


def test_stl10_items_browse_by_index_and_class(stl10_folder):
    root, images = stl10_folder
    dataset = open_stl10(root, "test")
    item = stl10_item(dataset, 1)
    assert torch.equal((item.image * 255).round().to(torch.uint8), images[1]) and item.label == "cat"
    assert stl10_class_indices(dataset, "cat") == [1, 2, 5]
    with pytest.raises(DatasetError, match="0..5"):
        stl10_item(dataset, 6)


def test_missing_stl10_folder_says_how_to_get_it(tmp_path):
    with pytest.raises(DatasetError, match="does not exist.*Download"):
        open_stl10(tmp_path / "nowhere", "train")


def test_stl10_folders_are_the_operators_and_a_visitor_only_chooses_among_them(monkeypatch):
    monkeypatch.setenv("FOCUSMIM_STL10", os.pathsep.join(["/env/stl", " /env/other "]))
    folders = stl10_folders()
    assert folders[:2] == ["/env/stl", "/env/other"] and folders[2].endswith("data/stl10")
    assert stl10_root("/env/other") == "/env/other" and stl10_root(None) == "/env/stl"
    assert stl10_root("/etc") == "/env/stl"  # a typed or crafted path is never used
    monkeypatch.delenv("FOCUSMIM_STL10")
    assert stl10_root(None).endswith("data/stl10")


# --- checkpoint choice -----------------------------------------------------------------------------------------
@pytest.fixture
def checkpoint_folder(tmp_path):
    for name, mode, fill in [("periphery_0.8", "periphery", "mean"), ("blurry", "periphery", "blur"),
                             ("ae", "none", "mean")]:
        metadata = CheckpointMetadata(mode=mode, ratio=0.8, fill=fill, demo=True, epochs=1)
        save_checkpoint(tmp_path / f"{name}.safetensors", untrained_model(), metadata)
    return tmp_path


def test_auto_picks_the_checkpoint_trained_for_mode_and_fill(checkpoint_folder):
    infos = list_checkpoints(checkpoint_folder)
    assert choose(AUTO, "periphery", "blur", infos).info.path.stem == "blurry"
    assert choose(AUTO, "periphery", "mean", infos).info.path.stem == "periphery_0.8"


def test_a_mode_without_its_checkpoint_falls_back_with_a_note(checkpoint_folder):
    choice = choose(AUTO, "foveate", "mean", list_checkpoints(checkpoint_folder))
    assert choice.info.path.stem == "ae" and "No checkpoint was trained for foveate" in choice.substitute
    assert choice.note is None  # a stand-in, not a problem


def test_an_unknown_checkpoint_name_is_reported(checkpoint_folder):
    infos = list_checkpoints(checkpoint_folder)
    choice = choose("gone", "periphery", "mean", infos)
    assert choice.info.path.stem == "periphery_0.8" and "`gone` was not found" in choice.note
    assert choose(infos[0].name, "foveate", "mean", infos).info == infos[0]


@pytest.mark.parametrize(
    "crafted",
    [
        "x](https://evil.example/)",
        "![](https://evil.example/pixel.png)",
        "**Official notice** `code` [link](http://evil.example)\n\n# Heading",
        "a" * 500,
    ],
)
def test_values_from_a_link_are_echoed_as_short_inline_code(crafted):
    _, messages = parse_query({"mode": crafted, "img": crafted, "src": "gallery", "fill": crafted, "x": crafted})
    note = choose(crafted, "periphery", "mean", []).note
    for message in [*messages, note]:
        quoted = re.findall(r"`([^`]*)`", message)
        assert quoted, message
        outside = re.sub(r"`[^`]*`", "", message)
        assert "](" not in outside and "**" not in outside and "\n" not in message  # nothing for Markdown to render
        assert all(len(q) <= 40 for q in quoted)


def test_no_checkpoint_at_all_gives_none_and_an_untrained_network_is_deterministic():
    assert choose(AUTO, "periphery", "mean", []).info is None
    assert describe(None)["checkpoint"] == "none"
    a, b = untrained_model(), untrained_model()
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


def test_describe_shows_the_demo_flag_and_probe(checkpoint_folder):
    info = list_checkpoints(checkpoint_folder)[0]
    assert describe(info)["demo"] is True and describe(info)["probe accuracy"] is None


# --- runs and the paper's numbers --------------------------------------------------------------------------------
def test_runs_read_their_logs_skipping_broken_lines(tmp_path):
    run = tmp_path / "periphery_run"
    run.mkdir()
    lines = [{"epoch": 0, "loss": 0.05, "foreground_mse": None}, {"epoch": 1, "loss": 0.03, "foreground_mse": 0.02}]
    (run / "metrics.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + '\n{"epoch": 2, "lo')
    (tmp_path / "not_a_run").mkdir()
    runs = find_runs([tmp_path])
    assert [r.name for r in runs] == ["periphery_run"] and runs[0].skipped == 1
    assert runs[0].series("loss") == ([0, 1], [0.05, 0.03])
    assert runs[0].series("foreground_mse") == ([1], [0.02])
    assert read_run(tmp_path / "not_a_run").records == []


def test_runs_skip_deeply_nested_and_wrongly_typed_log_lines_and_say_why(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    lines = ['{"epoch": 0, "loss": 0.05}', "[" * 100_000 + "]" * 100_000, '{"epoch": "one", "loss": 0.04}',
             '{"epoch": 2, "loss": [0.03]}', '{"epoch": 3, "loss": 0.02, "note": ' + "[" * 30 + "]" * 30 + "}",
             '{"epoch": 4, "loss": 0.01}']  # fmt: skip
    (run / "metrics.jsonl").write_text("\n".join(lines))
    (found,) = find_runs([tmp_path])
    assert found.series("loss") == ([0, 4], [0.05, 0.01])
    assert found.skipped == 4 and [problem.split(":")[0] for problem in found.problems] == [
        "line 2", "line 3", "line 4", "line 5"
    ]  # fmt: skip
    assert "deeper than" in found.problems[0] and "deeper than" in found.problems[3]
    assert "'epoch' must be int, not str" in found.problems[1] and "'loss' must be" in found.problems[2]


def test_probe_rows_put_ours_next_to_the_papers(checkpoint_folder):
    infos = list_checkpoints(checkpoint_folder)
    infos[0].metadata.metrics["probe"] = {"accuracy_mean": 0.412, "accuracy_std": 0.01, "dataset": "synthetic"}
    rows = {r.checkpoint: r for r in probe_rows(infos)}
    first = rows[infos[0].name]
    assert first.accuracy == pytest.approx(41.2) and first.spread == pytest.approx(1.0)
    assert rows[infos[1].name].accuracy is None
    infos[1].metadata.metrics["probe"] = {"accuracy_mean": 0.3, "accuracy_std": 0.0, "seeds": [0]}
    assert probe_rows(infos)[1].spread is None  # one seed: no spread to show, not "0"
    assert first.paper_accuracy == paper_accuracy("none") == 47.0 and first.paper_setup == "autoencoder"


def test_random_init_baseline_is_read_when_recorded_and_reported_when_broken(tmp_path):
    assert random_init_probe(tmp_path) is None
    (tmp_path / RANDOM_INIT_PROBE).write_text('{"accuracy_mean": 0.21, "knn_accuracy": 0.23}')
    assert random_init_probe(tmp_path)["accuracy_mean"] == 0.21
    for text, problem in [("{broken", "Expecting property name"), ('{"accuracy_mean": "high"}', "'accuracy_mean'"),
                          ('{"accuracy_mean": 0.2, "knn_accuracy": "high"}', "'knn_accuracy' must be"),
                          ("[" * 100_000, "deeper than")]:  # fmt: skip
        (tmp_path / RANDOM_INIT_PROBE).write_text(text)
        with pytest.raises(InputError, match=problem) as refused:
            random_init_probe(tmp_path)
        assert RANDOM_INIT_PROBE in str(refused.value)


@pytest.mark.parametrize(
    ("setup", "condition"),
    [(("periphery", "mean", True), "periphery_0.8"), (("periphery", "mean", False), "periphery_0.8_no_crop"),
     (("periphery", "blur", True), "blurry_periphery_0.8"), (("random_patches", "blur", True), "blurry_patches_0.6"),
     (("foveate", "blur", True), "foveate"), (("periphery_square", "mean", True), None),
     (("random_patches", "mean", False), None), (("periphery", "mean", True, "latent"), None),
     (("unknown", "mean", True), None)],
)  # fmt: skip
def test_paper_entries_match_training_setups(setup, condition):
    found = paper_condition(*setup)
    assert (found and found.name) == condition


# --- figures and exports -----------------------------------------------------------------------------------------
@pytest.fixture
def panels(model):
    item = synthetic_item(5)
    view = ViewState(fixation=(30, 40), mode="periphery", ratio=0.8, attention=(70, 50))
    return render(item.image, view, model, item.foreground)


def test_pixelated_images_keep_every_pixel_as_a_block():
    image = torch.rand(3, 96, 96)
    big = pixelated(image, 4)
    assert big.shape == (384, 384, 3) and big.dtype == np.uint8
    assert (big[4:8, 8:12] == big[4, 8]).all()


def test_markers_sit_on_the_fixation_and_leave_the_rest_alone():
    base = pixelated(torch.zeros(3, 96, 96), 4)
    marked = draw_markers(base, [(10, 20), (80, 70)], 4)
    assert tuple(marked[20 * 4 + 2, 10 * 4 + 2]) == (255, 40, 40)  # red dot at the fixation
    assert tuple(marked[70 * 4 + 2, 80 * 4 + 2]) == (40, 200, 255)  # cyan at the attention point
    assert (marked[200:260, 200:260] == 0).all() and (base == 0).all()
    assert marked_image(torch.zeros(3, 96, 96), [(10, 20)], 4)[82, 42].tolist() == [255, 40, 40]


def test_markers_are_whole_rings_anywhere_even_at_the_edges():
    # the ring, its dark outline and the dot, from their definitions over the whole image
    scale, radius, width = 4, 10.4, 1.4
    rows, cols = np.mgrid[0:384, 0:384]
    for x, y in [(48, 48), (0, 0), (95, 95), (0, 95)]:
        distance = np.sqrt((cols + 0.5 - (x + 0.5) * scale) ** 2 + (rows + 0.5 - (y + 0.5) * scale) ** 2)
        ring = (np.abs(distance - radius) <= width) | (distance <= 1.6)
        outline = (np.abs(distance - radius - width - 0.7) <= 0.7) & ~ring
        marked = draw_markers(np.full((384, 384, 3), 128, np.uint8), [(x, y)], scale)
        assert (marked[ring] == (255, 40, 40)).all() and (marked[outline] == 0).all()
        assert (marked[~ring & ~outline] == 128).all()


def test_heatmaps_show_rows_top_down_with_hover_values_and_one_colour_scale():
    error, weighted = torch.zeros(96, 96), torch.zeros(96, 96)
    error[5, 7], weighted[90, 3] = 0.25, 0.5
    figure = heatmap_row([("error", error), ("weighted", weighted)])
    first, second = figure.data
    assert first.z[5][7] == 0.25 and second.z[90][3] == 0.5
    assert figure.layout.coloraxis.cmax == 0.5 and first.coloraxis == second.coloraxis == "coloraxis"
    assert figure.layout.yaxis.autorange == "reversed" and figure.layout.yaxis2.autorange == "reversed"
    assert second.xaxis == "x2" and "weighted" in second.hovertemplate and "%{z" in first.hovertemplate
    assert figure.layout.coloraxis.colorscale[0][1] == "rgb(0, 0, 4)"  # explicit rgb, not hex
    assert rgb_scale("Greys")[0][1].startswith("rgb")


def test_colour_map_spans_the_scale():
    rgb = colour_map(torch.tensor([[0.0, 1.0]]), vmax=1.0)
    assert rgb.shape == (3, 1, 2)
    assert torch.allclose(rgb[:, 0, 0], torch.tensor([0, 0, 4]) / 255) and rgb[:, 0, 1].sum() > 2


def test_panel_row_png_has_every_panel(panels):
    row = panel_images(panels, scale=2)
    assert [t for t, _ in row][-2:] == ["fg-weighted error", "foreground"] and len(row) == 8
    assert "visible pasted back" in [t for t, _ in row]
    png = Image.open(io.BytesIO(panel_row_png(panels, scale=2)))
    assert png.format == "PNG" and png.width >= 8 * 192 and png.height >= 192


def test_settings_json_holds_view_link_checkpoint_and_metrics(panels):
    view = ViewState(fixation=(30, 40), attention=(70, 50))
    values = json.loads(settings_json(view, panels, {"checkpoint": "x"}))
    assert values["view"]["fixation"] == [30, 40] and values["query"]["ax"] == "70"
    assert values["metrics"]["masked_mse"] == pytest.approx(panels.metrics["masked_mse"])
    assert values["checkpoint"] == {"checkpoint": "x"}


def test_correlation_heatmap_names_units_on_hover_and_channel_grid_names_channels():
    matrix = torch.tensor([[1.0, -0.5], [-0.5, 1.0]])
    trace = correlation_heatmap(matrix, [1200, 7]).data[0]
    assert trace.customdata[0][1].tolist() == [7, 1200] and trace.zmin == -1 and trace.zmax == 1
    latent = torch.rand(128, 12, 12)
    grid = channel_grid_figure(channel_grid(latent, 16), 16, 12).data[0]
    assert grid.customdata[0][0] == 0 and grid.customdata[13][13] == 17  # second row, second column


def test_segmentation_overlay_colours_each_cluster():
    labels = torch.zeros(96, 96, dtype=torch.long)
    labels[:, 48:] = 1
    overlay = segmentation_overlay(torch.zeros(3, 96, 96), labels, alpha=1.0, scale=1)
    assert not np.array_equal(overlay[0, 0], overlay[0, 95])


# --- comparisons -------------------------------------------------------------------------------------------------
def test_ratio_curves_match_single_renders(model):
    item = synthetic_item(2)
    base = ViewState(fixation=(40, 40))
    models = {"periphery": model, "none": model}
    curves = ratio_curves(item.image, base, models, item.foreground, "masked_mse")
    periphery = curves[MODES["periphery"].label]
    single = render(item.image, ViewState(fixation=(40, 40), mode="periphery", ratio=0.3), model, item.foreground)
    assert periphery[0] == list(SWEEP_RATIOS)
    assert periphery[1][2] == pytest.approx(single.metrics["masked_mse"], rel=1e-4)
    flat = curves[MODES["none"].label][1]
    assert len(flat) == len(SWEEP_RATIOS) and len(set(flat)) == 1
    assert len(sweep_views(base, ["periphery", "foveate"], SWEEP_RATIOS)) == len(SWEEP_RATIOS) + 1
    figure = ratio_sweep_chart(curves, "masked MSE")
    assert {trace.name for trace in figure.data} == set(curves)


def test_curves_over_whole_numbers_get_whole_number_ticks():
    assert line_chart({"run": ([1, 2], [0.3, 0.2])}, "loss", "epoch", "loss").layout.xaxis.dtick == 1
    assert line_chart({"run": (list(range(0, 500, 10)), [0.1] * 50)}, "l", "epoch", "l").layout.xaxis.dtick == 49
    assert line_chart({"sweep": ([0.1, 0.5], [0.3, 0.2])}, "mse", "ratio", "mse").layout.xaxis.dtick is None


def test_mode_table_has_a_row_per_mode(panels):
    rows = mode_table([panels], {"periphery": "ckpt"})
    assert rows[0]["checkpoint"] == "ckpt" and rows[0]["masked MSE"] == panels.metrics["masked_mse"]


def test_scanpath_curves_compare_three_paths_of_equal_length(model):
    item = synthetic_item(4)
    curves = scanpath_curves(item.image, [(20, 20), (70, 70)], ViewState(ratio=0.9), model, item.foreground)
    assert set(curves) == {"your scanpath", "suggested (model's own error)", "random"}
    assert all(len(c) == 2 for c in curves.values())
    assert curves["your scanpath"][0] == curves["random"][0]  # same first fixation


def test_batch_latents_and_statistics(model):
    assert list(BATCH_SOURCES) == ["gallery", "synthetic", "stl10"]  # ids; the labels are the values
    with pytest.raises(ValueError, match="unknown batch source"):
        batch_images(BATCH_SOURCES["gallery"])  # a label is not an id
    images = batch_images("gallery")
    latents = encode_batch(model, images)
    assert latents.shape == (images.shape[0], 128, 12, 12)
    assert torch.allclose(latents[:2], model.encode(images[:2]), atol=1e-5)
    row = statistics_row(None, latents)
    assert row["checkpoint"] == "untrained" and row["decorrelation"] >= 0 and 0 <= row["unit_sparsity"] <= 1


def test_saved_untrained_model_round_trips(tmp_path):
    path = save_checkpoint(tmp_path / "m.safetensors", Autoencoder(), CheckpointMetadata(demo=True))
    assert list_checkpoints(tmp_path)[0].path == path


def test_checkpoint_details_render_as_a_markdown_table():
    text = details_markdown({"checkpoint": "demo|v2", "probe accuracy": None, "epochs": 2})
    assert text.splitlines() == [
        "| field | value |",
        "|---|---|",
        "| checkpoint | demo\\|v2 |",
        "| probe accuracy | – |",
        "| epochs | 2 |",
    ]
