"""Masking modes: exact geometry, fills, per-sample settings, determinism, bad settings."""

from __future__ import annotations

import math
import re
from dataclasses import replace

import pytest
import torch
from torchvision.transforms import functional as TF

from focusmim_core import (
    MODES,
    Autoencoder,
    InputError,
    inference_model,
    mask_images,
    patch_count,
    periphery_radius,
    square_side,
)
from focusmim_core.geometry import CELL_PIXELS, GRID, GRID_CELLS, IMAGE_SIZE
from focusmim_core.model import LATENT_SHAPE
from focusmim_core.objectives.latent_mim import target_cells
from focusmim_core.pretraining import BatchRecipe

RATIOS = [0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.9, 0.95, 1.0]
CORNERS = [(0, 0), (95, 0), (0, 95), (95, 95)]


def disc_count(radius: int, x: int = 48, y: int = 48) -> int:
    """Pixels of the 96 x 96 image within ``radius`` of (x, y), counted one by one."""
    return sum(1 for col in range(96) for row in range(96) if (col - x) ** 2 + (row - y) ** 2 <= radius**2)


def test_periphery_radius_formula():
    for ratio in [*RATIOS, 0.0, 0.33, 0.81]:
        expected = int(math.sqrt(96 * 96 * (1 - ratio) / math.pi))
        assert int(periphery_radius(ratio)) == expected
    assert int(periphery_radius(0.8)) == 24


def test_periphery_at_the_centre_shows_the_papers_disc(images):
    inputs, loss_mask = mask_images(images, "periphery", 0.8)
    visible = loss_mask == 0
    assert int(visible[0].sum()) == 1793
    rows, cols = torch.meshgrid(torch.arange(96), torch.arange(96), indexing="ij")
    expected = (cols - 48) ** 2 + (rows - 48) ** 2 <= 24**2
    assert torch.equal(visible[0, 0], expected)
    assert torch.equal(inputs[visible.expand_as(inputs)], images[visible.expand_as(images)])


@pytest.mark.parametrize("ratio", RATIOS)
def test_visible_fraction_follows_the_ratio(images, ratio):
    _, loss_mask = mask_images(images[:1], "periphery", ratio)
    radius = int(periphery_radius(ratio))
    assert int((loss_mask == 0).sum()) == disc_count(radius)


@pytest.mark.parametrize("ratio", RATIOS)
def test_random_patch_count_is_floor_of_144_ratio(images, ratio):
    _, loss_mask = mask_images(images, "random_patches", ratio, generator=torch.Generator().manual_seed(1))
    patches = loss_mask.view(4, 12, 8, 12, 8)
    per_patch = patches.amax(dim=(2, 4))
    assert torch.equal(patches.amin(dim=(2, 4)), per_patch)  # whole 8 x 8 patches only
    assert per_patch.sum(dim=(1, 2)).tolist() == [int(144 * ratio)] * 4
    assert int(patch_count(ratio)) == int(144 * ratio)


def test_patch_count_uses_float64_like_the_reference():
    assert int(patch_count(0.6)) == 86 and int(patch_count(0.7)) == 100 and int(patch_count(0.35)) == 50


def test_patches_are_uniform_over_positions():
    images = torch.zeros(2000, 3, 96, 96)
    _, loss_mask = mask_images(images, "random_patches", 0.5, generator=torch.Generator().manual_seed(0))
    frequency = loss_mask.view(2000, 12, 8, 12, 8)[:, :, 0, :, 0].mean(0)
    assert float(frequency.min()) > 0.43 and float(frequency.max()) < 0.57


def test_same_seed_same_masks_different_seed_different(images):
    def draw(seed):
        return mask_images(images, "random_patches", 0.6, generator=torch.Generator().manual_seed(seed))[1]

    assert torch.equal(draw(3), draw(3))
    assert not torch.equal(draw(3), draw(4))


def test_patch_masks_redraw_each_call_from_one_generator(images):
    generator = torch.Generator().manual_seed(0)
    first = mask_images(images, "random_patches", 0.6, generator=generator)[1]
    second = mask_images(images, "random_patches", 0.6, generator=generator)[1]
    assert not torch.equal(first, second)


@pytest.mark.parametrize("mode", ["periphery", "periphery_square", "foveate", "none"])
@pytest.mark.parametrize("fill", ["mean", "blur"])
def test_batch_equals_the_loop_over_its_samples(images, mode, fill):
    fixations = torch.tensor([[10, 20], [95, 0], [48, 48], [70, 90]], dtype=torch.float32)
    ratios = torch.tensor([0.5, 0.8, 0.9, 0.3])
    batch_inputs, batch_mask = mask_images(images, mode, ratios, fixations, fill=fill)
    for i in range(4):
        inputs, loss_mask = mask_images(images[i : i + 1], mode, float(ratios[i]), fixations[i], fill=fill)
        torch.testing.assert_close(batch_inputs[i], inputs[0], atol=1e-6, rtol=0)
        assert torch.equal(batch_mask[i], loss_mask[0])


def test_each_image_hides_the_patches_with_its_lowest_random_scores(images):
    """Sample i's patches are the 86 lowest of its 144 uniform scores: a uniform draw without replacement."""
    batch = mask_images(images, "random_patches", 0.6, generator=torch.Generator().manual_seed(2))[1]
    per_sample = torch.Generator().manual_seed(2)
    scores = torch.rand(4, 144, generator=per_sample)
    for i in range(4):
        chosen = torch.zeros(144)
        chosen[scores[i].argsort()[:86]] = 1
        expected = chosen.view(12, 1, 12, 1).expand(12, 8, 12, 8).reshape(96, 96)
        assert torch.equal(batch[i, 0], expected)


@pytest.mark.parametrize("mode", ["periphery", "periphery_square", "foveate"])
@pytest.mark.parametrize("corner", CORNERS)
def test_fixations_at_the_corners(images, mode, corner):
    x, y = corner
    inputs, loss_mask = mask_images(images[:1], mode, 0.8, fixations=corner)
    assert loss_mask[0, 0, y, x] == 0  # the fixated pixel is seen
    assert torch.equal(inputs[0, :, y, x], images[0, :, y, x])
    if mode == "periphery":
        radius = int(periphery_radius(0.8))
        quarter = sum(1 for dx in range(radius + 1) for dy in range(radius + 1) if dx * dx + dy * dy <= radius**2)
        assert int((loss_mask == 0).sum()) == quarter


@pytest.mark.parametrize("mode", list(MODES))
def test_loss_mask_is_binary_and_shaped(images, mode):
    inputs, loss_mask = mask_images(images, mode, 0.6, fixations=(30, 60), generator=torch.Generator())
    assert inputs.shape == images.shape and loss_mask.shape == (4, 1, 96, 96)
    assert set(loss_mask.unique().tolist()) <= {0.0, 1.0}
    assert float(inputs.min()) >= 0 and float(inputs.max()) <= 1


def test_mean_fill_is_each_channels_image_mean(images):
    inputs, loss_mask = mask_images(images, "periphery", 0.8, fixations=(20, 30))
    hidden = loss_mask[0, 0] == 1
    for channel in range(3):
        torch.testing.assert_close(inputs[0, channel][hidden], images[0, channel].mean().expand(int(hidden.sum())))


def test_blur_fill_really_blurs_the_hidden_pixels(images):
    inputs, loss_mask = mask_images(images, "random_patches", 0.6, fill="blur", generator=torch.Generator())
    blurred = TF.gaussian_blur(images, [33, 33], [100.0, 100.0])
    hidden = (loss_mask == 1).expand_as(images)
    torch.testing.assert_close(inputs[hidden], blurred[hidden], atol=5e-6, rtol=0)
    torch.testing.assert_close(inputs[~hidden], images[~hidden])
    mean_filled = mask_images(images, "random_patches", 0.6, fill="mean", generator=torch.Generator())[0]
    assert float((inputs - mean_filled).abs().max()) > 0.01  # not overwritten by the mean


def test_square_has_the_area_of_the_disc(images):
    for ratio in (0.5, 0.8, 0.9):
        radius, side = int(periphery_radius(ratio)), int(square_side(ratio))
        assert side == round(math.sqrt(math.pi) * radius)
        _, loss_mask = mask_images(images[:1], "periphery_square", ratio)
        visible = loss_mask[0, 0] == 0
        assert int(visible.sum()) == side * side
        rows, cols = torch.nonzero(visible, as_tuple=True)
        assert int(cols.min()) == 48 - side // 2 and int(rows.max()) == 48 - side // 2 + side - 1


def test_covert_attention_reveals_a_second_disc_of_the_same_radius(images):
    _, single = mask_images(images[:1], "periphery", 0.8, fixations=(25, 25))
    _, double = mask_images(images[:1], "periphery", 0.8, fixations=(25, 25), attention=(70, 72))
    assert int((double == 0).sum()) == disc_count(24, 25, 25) + disc_count(24, 70, 72)
    assert double[0, 0, 72, 70] == 0 and single[0, 0, 72, 70] == 1


def region_by_definition(mode: str, ratio: float, points: list[tuple[int, int]]) -> torch.Tensor:
    """The visible region written pixel by pixel from the definitions: bool (96, 96)."""
    radius, side = int(periphery_radius(ratio)), int(square_side(ratio))
    visible = torch.zeros(96, 96, dtype=torch.bool)
    for row in range(96):
        for col in range(96):
            for x, y in points:
                if mode == "periphery":
                    inside = (col - x) ** 2 + (row - y) ** 2 <= radius**2
                else:
                    inside = x - side // 2 <= col < x - side // 2 + side and y - side // 2 <= row < y - side // 2 + side
                visible[row, col] |= inside
    return visible


@pytest.mark.parametrize("mode", ["periphery", "periphery_square"])
def test_region_masks_equal_the_pixel_by_pixel_definition(images, mode):
    generator = torch.Generator().manual_seed(3)
    fixations = torch.randint(0, 96, (4, 2), generator=generator)
    attention = torch.randint(0, 96, (4, 2), generator=generator)
    ratios = torch.tensor([0.3, 0.6, 0.8, 0.95])
    _, single = mask_images(images, mode, ratios, fixations=fixations)
    _, double = mask_images(images, mode, ratios, fixations=fixations, attention=attention)
    for i in range(4):
        point, second = tuple(fixations[i].tolist()), tuple(attention[i].tolist())
        ratio = float(ratios[i])
        assert torch.equal(single[i, 0] == 0, region_by_definition(mode, ratio, [point]))
        assert torch.equal(double[i, 0] == 0, region_by_definition(mode, ratio, [point, second]))


def test_per_sample_ratios(images):
    _, loss_mask = mask_images(images, "periphery", torch.tensor([0.2, 0.5, 0.8, 0.95]))
    visible = (loss_mask == 0).sum(dim=(1, 2, 3)).tolist()
    assert visible == [disc_count(int(periphery_radius(r))) for r in (0.2, 0.5, 0.8, 0.95)]


def test_none_mode_shows_everything_and_reference_spelling_works(images):
    for mode in ("none", "None", None):
        inputs, loss_mask = mask_images(images, mode, 0.5)
        assert torch.equal(inputs, images) and bool((loss_mask == 1).all())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "fovea"}, "Unknown masking mode"),
        ({"mode": "periphery", "ratio": 1.5}, "between 0 and 1"),
        ({"mode": "periphery", "fill": "noise"}, "Unknown fill"),
        ({"mode": "periphery", "fixations": (96, 10)}, "outside"),
        ({"mode": "periphery", "fixations": (-1, 10)}, "outside"),
        ({"mode": "random_patches", "attention": (10, 10)}, "Covert attention"),
        ({"mode": "periphery", "ratio": [0.1, 0.2]}, "one per image"),
    ],
)
def test_bad_settings_raise_clear_input_errors(images, kwargs, message):
    with pytest.raises(InputError, match=message):
        mask_images(images, **{"ratio": 0.5, **kwargs})


def test_covert_attention_is_refused_by_name_and_offered_by_every_mode_registered_for_it(images, monkeypatch):
    monkeypatch.setitem(MODES, "wide_periphery", replace(MODES["periphery"], name="wide_periphery"))
    trainer = BatchRecipe(mode="random_patches", ratio=0.6, attention="random")
    for refuse in (lambda: mask_images(images, "none", attention=(10, 10)), lambda: trainer.check(False)):
        with pytest.raises(InputError, match="Covert attention needs") as refused:
            refuse()
        offered = re.search(r"\((.*)\)", str(refused.value)).group(1).split(", ")
        assert offered == ["periphery", "periphery_square", "foveate", "wide_periphery"]


def test_the_cell_grid_is_the_latent_grid_the_patch_grid_and_the_target_grid(images):
    assert GRID * CELL_PIXELS == IMAGE_SIZE and images.shape[-1] == IMAGE_SIZE
    latent = inference_model(Autoencoder()).encode(images[:2])
    assert latent.shape[1:] == LATENT_SHAPE and LATENT_SHAPE[1:] == (GRID, GRID)
    _, hidden = mask_images(images[:2], "random_patches", 0.5, generator=torch.Generator().manual_seed(0))
    cells = target_cells(hidden)  # each hidden patch is exactly one hidden cell
    assert cells.shape == (2, GRID_CELLS) and cells.sum(1).tolist() == [GRID_CELLS // 2] * 2
    assert hidden.sum().item() == 2 * (GRID_CELLS // 2) * CELL_PIXELS**2
