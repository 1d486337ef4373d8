"""The foveal filter reproduces the reference exactly, at any fixation, batched."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import FIXTURES
from reference_foveation import plain_foveate

from focusmim_core import foveate, mask_images
from focusmim_core.foveation import FovealFilter, weight_maps

CORNERS_AND_MORE = [(0, 0), (95, 0), (0, 95), (95, 95), (10, 70), (60, 20), (48, 48)]


@pytest.fixture(scope="module")
def reference():
    return np.load(FIXTURES / "foveate_reference.npz")


@pytest.mark.parametrize(("antialias", "key"), [(False, "foveated_no_antialias"), (True, "foveated_antialias")])
def test_matches_reference_outputs_at_the_centre(reference, antialias, key):
    inputs = torch.from_numpy(reference["inputs"])
    fixation = tuple(int(v) for v in reference["fixation_xy"])
    out, _ = foveate(inputs, fixation, antialias=antialias)
    np.testing.assert_allclose(out.numpy(), reference[key], atol=1e-5, rtol=0)


def test_default_is_the_papers_non_antialiased_pyramid(reference):
    inputs = torch.from_numpy(reference["inputs"])
    out, _ = foveate(inputs)
    assert np.abs(out.numpy() - reference["foveated_no_antialias"]).max() < 1e-5
    assert np.abs(out.numpy() - reference["foveated_antialias"]).max() > 1e-2


def test_the_small_pyramid_blur_is_applied(reference):
    """sigma 0.248 changes values by ~1e-4: dropping it must break the 1e-5 match."""
    inputs = torch.from_numpy(reference["inputs"])
    out, _ = foveate(inputs, (48, 48), spec=FovealFilter(sigma=0.01))
    assert np.abs(out.numpy() - reference["foveated_no_antialias"]).max() > 2e-5


@pytest.mark.parametrize("antialias", [False, True])
def test_any_fixation_matches_a_plain_per_image_implementation(antialias):
    images = torch.rand(len(CORNERS_AND_MORE), 3, 96, 96, generator=torch.Generator().manual_seed(3))
    fixations = torch.tensor(CORNERS_AND_MORE, dtype=torch.float32)
    out, mask = foveate(images, fixations, antialias=antialias)
    for i, (x, y) in enumerate(CORNERS_AND_MORE):
        expected, expected_mask = plain_foveate(images[i], x, y, antialias)
        torch.testing.assert_close(out[i], expected, atol=1e-5, rtol=0)
        assert torch.equal(mask[i, 0], expected_mask)


def test_loss_mask_sits_where_the_image_is_sharp_off_centre():
    image = torch.rand(1, 3, 96, 96, generator=torch.Generator().manual_seed(5))
    x, y = 12, 70  # column 12, row 70: far from the transposed position (70, 12)
    out, mask = foveate(image, (x, y))
    unchanged = (out == image).all(dim=1)[0]
    sharp = mask[0, 0] == 0
    assert torch.equal(unchanged, sharp)
    assert bool(sharp[y, x]) and not bool(sharp[x, y])
    rows, cols = torch.nonzero(sharp, as_tuple=True)
    assert abs(float(cols.float().mean()) - x) < 1 and abs(float(rows.float().mean()) - y) < 1


def test_fovea_is_the_disc_where_resolution_exceeds_one_half():
    _, mask = foveate(torch.rand(1, 3, 96, 96), (48, 48))
    rows, cols = torch.meshgrid(torch.arange(96), torch.arange(96), indexing="ij")
    inside = (cols - 48) ** 2 + (rows - 48) ** 2 < 8.75**2  # R > 0.5  <=>  theta < alpha
    assert torch.equal(mask[0, 0] == 0, inside)


def test_batch_equals_loop_and_masking_entry_point_agrees():
    images = torch.rand(5, 3, 96, 96, generator=torch.Generator().manual_seed(7))
    fixations = torch.tensor([[3, 4], [90, 10], [48, 48], [20, 80], [95, 95]], dtype=torch.float32)
    batch, batch_mask = foveate(images, fixations)
    for i in range(5):
        single, single_mask = foveate(images[i : i + 1], fixations[i])
        torch.testing.assert_close(batch[i], single[0], atol=1e-6, rtol=0)
        assert torch.equal(batch_mask[i], single_mask[0])
    inputs, loss_mask = mask_images(images, "foveate", fixations=fixations)
    assert torch.equal(inputs, batch) and torch.equal(loss_mask, batch_mask)


def test_two_foveae_sharpen_two_places():
    image = torch.rand(1, 3, 96, 96, generator=torch.Generator().manual_seed(9))
    _, one = foveate(image, (20, 20))
    _, two = foveate(image, torch.tensor([[[20.0, 20.0], [75.0, 70.0]]]))
    assert one[0, 0, 70, 75] == 1 and two[0, 0, 70, 75] == 0 and two[0, 0, 20, 20] == 0
    assert int((two == 0).sum()) == 2 * int((one == 0).sum())


def test_weight_tables_sum_to_one_and_never_use_the_coarsest_level():
    points = torch.tensor([[[0.0, 0.0]], [[48.0, 48.0]]])
    weights = torch.cat(weight_maps(points, 96, 96), dim=1)
    torch.testing.assert_close(weights.sum(1), torch.ones(2, 96, 96), atol=2e-5, rtol=0)
    assert weights.shape[1] == 5  # six pyramid levels, the sixth never weighted
