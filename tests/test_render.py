"""Rendering views, scanpaths and latent analyses: what the app shows, computed in the core."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from focusmim_core import MODES, InputError, mask_images, masked_mse
from focusmim_core.data import gallery_images
from focusmim_core.explorer.catalog import untrained_model
from focusmim_core.explorer.render import (
    harmonic_caption,
    harmonic_reference,
    render,
    render_batch,
    render_modes,
    render_ratio_sweep,
)
from focusmim_core.explorer.scanpath import (
    error_curve,
    glimpse_points,
    random_scanpath,
    render_scanpath,
    reveal_gain,
    reveal_radius,
    suggest_fixation,
    suggested_scanpath,
)
from focusmim_core.explorer.sweeps import scanpath_curves
from focusmim_core.explorer.viewstate import ViewState
from focusmim_core.latent_analysis import (
    channel_grid,
    latent_segmentation,
    latent_statistics,
    latent_tsne,
    nested_labels,
    unit_correlations,
)
from focusmim_core.metrics import psnr


@pytest.fixture
def image(images):
    return images[0]


def test_render_gives_every_panel_and_consistent_metrics(image, model):
    foreground = torch.zeros(96, 96)
    foreground[30:70, 30:70] = 1
    panels = render(image, ViewState(fixation=(20, 30), mode="periphery", ratio=0.8), model, foreground)
    assert panels.masked_input.shape == panels.reconstruction.shape == (3, 96, 96)
    assert panels.loss_mask.shape == panels.error_map.shape == panels.weighted_error_map.shape == (96, 96)
    assert panels.latent.shape == (128, 12, 12)
    inputs, loss_mask = mask_images(image[None], "periphery", 0.8, (20, 30))
    assert torch.equal(panels.masked_input, inputs[0]) and torch.equal(panels.loss_mask, loss_mask[0, 0])
    with torch.no_grad():
        reconstruction = model(inputs)[0]
    assert panels.metrics["masked_mse"] == pytest.approx(
        float(masked_mse(reconstruction, image[None], loss_mask)), rel=1e-4
    )
    expected_fg = float(masked_mse(reconstruction, image[None], loss_mask, foreground.view(1, 1, 96, 96)))
    assert panels.metrics["foreground_mse"] == pytest.approx(expected_fg, rel=1e-4)
    assert torch.allclose(panels.weighted_error_map, panels.error_map * foreground)
    assert panels.metrics["psnr_hidden"] == pytest.approx(
        -10 * torch.log10(torch.tensor(panels.metrics["masked_mse"])).item(), rel=1e-4
    )
    assert panels.metrics["hidden_fraction"] == pytest.approx(float(loss_mask.mean()))


@pytest.mark.parametrize("mode", ["random_patches", "periphery", "foveate", "none"])
def test_the_pasted_panel_shows_the_input_where_visible_and_the_reconstruction_where_hidden(image, model, mode):
    panels = render(image, ViewState(fixation=(30, 60), mode=mode, ratio=0.6), model)
    hidden = panels.loss_mask.bool()
    assert torch.equal(panels.pasted[:, hidden], panels.reconstruction[:, hidden])
    assert torch.equal(panels.pasted[:, ~hidden], panels.masked_input[:, ~hidden])
    if mode != "foveate":  # masks copy the image where visible (the foveal filter degrades everything a little)
        assert torch.equal(panels.pasted[:, ~hidden], image[:, ~hidden])


def test_the_seed_picks_the_random_patches(image, model):
    view = ViewState(mode="random_patches", ratio=0.6, seed=7)
    first = render(image, view, model)
    assert torch.equal(render(image, view, model).loss_mask, first.loss_mask)
    assert not torch.equal(render(image, replace(view, seed=8), model).loss_mask, first.loss_mask)


def test_without_foreground_the_weighted_panels_are_absent(image, model):
    panels = render(image, ViewState(mode="random_patches", ratio=0.6, seed=3), model)
    assert panels.weighted_error_map is None and panels.metrics["foreground_mse"] is None
    again = render(image, ViewState(mode="random_patches", ratio=0.6, seed=3), model)
    assert torch.equal(panels.loss_mask, again.loss_mask)  # the seed fixes the patches


def test_all_modes_in_one_batch_equal_one_by_one(image, model):
    base = ViewState(fixation=(60, 40), fill="blur", seed=1)
    together = render_modes(image, base, model)
    assert [p.settings.mode for p in together] == list(MODES)
    for panels in together:
        alone = render(image, replace(base, mode=panels.settings.mode, ratio=panels.settings.ratio), model)
        torch.testing.assert_close(panels.reconstruction, alone.reconstruction, atol=1e-5, rtol=0)
        assert panels.metrics["masked_mse"] == pytest.approx(alone.metrics["masked_mse"], rel=1e-4, abs=1e-7)


def test_each_mode_can_use_its_own_network(image, model):
    other = type(model)().eval()
    panels = render_modes(image, ViewState(), {"periphery": model, "foveate": other}, modes=["periphery", "foveate"])
    alone = render(image, ViewState(mode="foveate", ratio=0), other)
    assert torch.allclose(panels[1].reconstruction, alone.reconstruction, atol=1e-5)


def test_ratio_sweep_hides_more_as_the_ratio_grows(image, model):
    sweep = render_ratio_sweep(image, ViewState(mode="periphery"), model, [0.2, 0.5, 0.8, 0.95])
    hidden = [p.metrics["hidden_fraction"] for p in sweep]
    assert hidden == sorted(hidden) and hidden[0] < 0.3 and hidden[-1] > 0.9


def test_covert_attention_in_a_view(image, model):
    plain = render(image, ViewState(fixation=(20, 20), mode="periphery", ratio=0.8), model)
    attended = render(image, ViewState(fixation=(20, 20), mode="periphery", ratio=0.8, attention=(75, 75)), model)
    assert attended.metrics["hidden_fraction"] < plain.metrics["hidden_fraction"]
    assert attended.loss_mask[75, 75] == 0


def test_glimpses_reveal_the_union_of_fixations(image, model):
    points = glimpse_points([(10, 10), (80, 20), (50, 80)], 96, 96)
    assert points.shape == (3, 3, 2) and points[0].unique(dim=0).tolist() == [[10.0, 10.0]]
    glimpses = render_scanpath(image, [(10, 10), (80, 20), (50, 80)], ViewState(mode="periphery", ratio=0.9), model)
    hidden = [p.metrics["hidden_fraction"] for p in glimpses]
    assert hidden[0] > hidden[1] > hidden[2]
    assert glimpses[2].loss_mask[10, 10] == glimpses[2].loss_mask[20, 80] == glimpses[2].loss_mask[80, 50] == 0
    with pytest.raises(InputError, match="fixation-based mode"):
        render_scanpath(image, [(1, 1)], ViewState(mode="random_patches"), model)


def test_suggestion_goes_where_the_hidden_error_is(image, model):
    panels = render(image, ViewState(fixation=(48, 48), mode="periphery", ratio=0.9), model)
    error = torch.zeros(96, 96)
    error[70:80, 5:15] = 1.0  # a hot spot at column ~10, row ~75
    panels = replace(panels, error_map=error, weighted_error_map=None)
    x, y = suggest_fixation(panels, radius=8)
    assert 5 <= x <= 15 and 70 <= y <= 80
    gain = reveal_gain(error, panels.loss_mask, 8)
    assert gain.shape == (96, 96) and float(gain[48, 48]) == 0.0


def test_with_the_whole_foreground_seen_there_is_no_suggestion_and_the_error_is_zero(image, model):
    foreground = torch.zeros(96, 96)
    foreground[40:56, 40:56] = 1.0  # a small object at the centre, inside the first disc
    base = ViewState(mode="periphery", ratio=0.8)
    glimpses = render_scanpath(image, [(48, 48)], base, model, foreground)
    assert glimpses[0].metrics["foreground_mse"] is None  # no hidden foreground: the weighted MSE is undefined
    assert suggest_fixation(glimpses[0], reveal_radius(base, 96, 96)) is None  # nothing left worth revealing
    assert error_curve(glimpses) == [0.0]  # and nothing left to get wrong
    curves = scanpath_curves(image, [(48, 48), (10, 10), (80, 80)], base, model, foreground)
    assert all(curve == [0.0, 0.0, 0.0] for curve in curves.values())  # the suggested curve does not vanish


def test_suggested_and_random_scanpaths(image, model):
    path = suggested_scanpath(image, (48, 48), 3, ViewState(mode="periphery", ratio=0.9), model)
    assert len(path) == 3 and path[0] == (48, 48) and len(set(path)) == 3
    assert random_scanpath((1, 2), 4, 96, 96, seed=0) == random_scanpath((1, 2), 4, 96, 96, seed=0)


def test_batched_views_with_per_view_fixations(images, model):
    views = [ViewState(fixation=(i * 20, 90 - i * 20)) for i in range(4)]
    panels = render_batch(images, views, model)
    for i, p in enumerate(panels):
        assert p.loss_mask[90 - i * 20, i * 20] == 0 and torch.equal(p.image, images[i])


def test_latent_views(model, images):
    with torch.no_grad():
        latents = model.encode(images)
    grid = channel_grid(latents[0])
    assert grid.shape == (8 * 13 - 1, 16 * 13 - 1)
    segmentation = latent_segmentation(latents[0])
    assert segmentation.shape == (3, 12, 12)
    assert [len(torch.unique(cut)) for cut in segmentation] == [3, 4, 5]
    stats = latent_statistics(latents)
    assert set(stats) == {"decorrelation", "unit_sparsity", "population_sparsity"}
    correlations = unit_correlations(latents, torch.tensor([0, 5, 9]))
    assert correlations.shape == (3, 3)


def blobs(sizes=(60, 40, 30, 14), spread=0.05) -> tuple[np.ndarray, np.ndarray]:
    """Points around four far-apart centres in 8-d (``sizes`` each) and their true groups."""
    generator = np.random.default_rng(0)
    centres = np.eye(8)[:4] * 10
    groups = np.repeat(np.arange(4), sizes)
    return centres[groups] + spread * generator.standard_normal((len(groups), 8)), groups


def test_one_ward_tree_cut_three_ways_keeps_the_larger_part_in_the_parents_colour():
    points, groups = blobs()
    labels = nested_labels(points, (3, 4, 5))
    assert [sorted(set(row)) for row in labels] == [[0, 1, 2], [0, 1, 2, 3], [0, 1, 2, 3, 4]]
    assert len(set(labels[1][groups == 0])) == 1 and len({labels[1][groups == g][0] for g in range(4)}) == 4
    assert labels[0][0] == 0  # the largest cluster of the first cut is colour 0
    for coarse, fine in ((labels[0], labels[1]), (labels[1], labels[2])):
        for part in set(fine):
            assert len(set(coarse[fine == part])) == 1  # nested: every part lies inside one parent
        for parent in set(coarse):  # the parent's colour stays on its largest part
            parts, counts = np.unique(fine[coarse == parent], return_counts=True)
            assert parts[np.argmax(counts)] == parent
    from scipy.cluster.hierarchy import fcluster, linkage

    reference = fcluster(linkage(points, "ward"), 4, criterion="maxclust")
    assert len(set(zip(reference, labels[1], strict=True))) == 4  # the same partition as scipy's own cut


def test_the_tsne_of_the_cells_keeps_neighbours_together():
    points, groups = blobs((36, 36, 36, 36))
    latent = torch.from_numpy(points.T.reshape(8, 12, 12)).float()
    embedding = latent_tsne(latent)
    assert embedding.shape == (144, 2) and np.allclose(embedding, latent_tsne(latent))  # seeded
    distances = np.linalg.norm(embedding[:, None] - embedding[None], axis=-1)
    same = groups[:, None] == groups[None]
    assert distances[same].mean() < 0.5 * distances[~same].mean()


def test_the_harmonic_reference_fills_only_the_hidden_pixels_and_scores_them():
    _, photos = gallery_images()
    image = photos[0]
    for mode, ratio in (("periphery", 0.8), ("random_patches", 0.6)):
        panels = render(image, ViewState(mode=mode, ratio=ratio), untrained_model(seed=0))
        filled, peak = harmonic_reference(panels)
        shown = panels.loss_mask < 0.5
        assert torch.equal(filled[:, shown], panels.masked_input[:, shown])
        hidden = panels.loss_mask[None, None]
        assert peak == pytest.approx(float(psnr(filled[None], image[None], hidden)[0]), abs=1e-4)
        if mode == "random_patches":  # 8 x 8 holes in a photo: smoothing beats the mean colour by far
            assert peak > float(psnr(panels.masked_input[None], image[None], hidden)[0]) + 2
    assert harmonic_reference(render(image, ViewState(mode="foveate"), untrained_model(seed=0))) is None


def test_the_harmonic_sentence_says_by_how_much_and_on_which_side():
    assert harmonic_caption(16.84, 16.21) == (
        "Harmonic inpainting: 16.2 dB on the hidden region; the network is **+0.6 dB** above it.")
    assert "**-1.5 dB** below" in harmonic_caption(11.0, 12.5)
    assert harmonic_caption(None, 12.0) is None and harmonic_caption(12.0, None) is None  # exact or no hidden pixels
