"""Batched random resized crops equal torchvision's, sample by sample; photo crops are reproducible."""

from __future__ import annotations

import torch
from torchvision.transforms import functional as TF

from focusmim_core.augment import crop_boxes, resized_crop
from focusmim_core.data import GALLERY
from focusmim_core.data.photos import PHOTO_SOURCES, TRAINING_PHOTOS, photo_crops
from focusmim_core.pretraining import BatchRecipe, prepare_batch


def test_resized_crop_equals_torchvision_per_sample(images):
    generator = torch.Generator().manual_seed(1)
    boxes = crop_boxes(len(images), 96, 96, generator)
    ours = resized_crop(images, boxes)
    for image, box, crop in zip(images, boxes.tolist(), ours, strict=True):
        assert torch.allclose(crop, TF.resized_crop(image, *box, size=[96, 96], antialias=True), atol=1e-5)


def test_uint8_images_and_foreground_maps_are_cropped_alike():
    generator = torch.Generator().manual_seed(2)
    images = torch.randint(0, 256, (6, 3, 96, 96), dtype=torch.uint8, generator=generator)
    boxes = crop_boxes(6, 96, 96, generator)
    stacked = resized_crop(torch.cat([images, images[:, :1]], dim=1), boxes)
    assert torch.equal(stacked[:, 3], stacked[:, 0])
    pairs = zip(images, boxes.tolist(), strict=True)
    reference = torch.stack([TF.resized_crop(im.float(), *b, size=[96, 96]) for im, b in pairs])
    assert torch.allclose(stacked[:, :3], reference, atol=1e-3)


def test_crop_boxes_follow_the_papers_scale_and_aspect_ranges():
    boxes = crop_boxes(20_000, 96, 96, torch.Generator().manual_seed(3)).double()
    top, left, height, width = boxes.T
    assert (top >= 0).all() and (left >= 0).all() and (top + height <= 96).all() and (left + width <= 96).all()
    area = height * width / 96**2
    assert area.min() >= 0.07 and area.max() <= 1.0  # scale (0.08, 1) up to rounding
    aspect = width / height
    assert aspect.min() > 0.7 and aspect.max() < 1.43
    assert 0.45 < area.mean() < 0.6  # E[U(0.08, 1)] = 0.54 before rejecting boxes that do not fit


def test_same_generator_seed_gives_the_same_training_batch():
    images = torch.randint(0, 256, (8, 3, 96, 96), dtype=torch.uint8, generator=torch.Generator().manual_seed(4))
    recipe = BatchRecipe(mode="random_patches", ratio=0.6, fixation="uniform")
    first = prepare_batch(images, None, recipe, torch.Generator().manual_seed(5))
    second = prepare_batch(images, None, recipe, torch.Generator().manual_seed(5))
    other = prepare_batch(images, None, recipe, torch.Generator().manual_seed(6))
    assert torch.equal(first.inputs, second.inputs) and torch.equal(first.weights, second.weights)
    assert not torch.equal(first.targets, other.targets)
    assert first.weights.sum(dim=(1, 2, 3)).eq(86 * 64).all()  # floor(144 * 0.6) patches of 8 x 8 pixels


def test_photo_crops_are_reproducible_and_never_use_gallery_photos():
    assert not set(TRAINING_PHOTOS) & {function for function, _, _ in GALLERY.values()}
    assert {"china", "flower", "grace_hopper", "cheetah", "lion", "tower"} <= set(TRAINING_PHOTOS)
    assert all(source.load().shape[2] == 3 and min(source.load().shape[:2]) >= 96 for source in PHOTO_SOURCES)
    first, again, other = photo_crops(16, seed=0), photo_crops(16, seed=0), photo_crops(16, seed=1)
    assert first.dtype == torch.uint8 and first.shape == (16, 3, 96, 96)
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert first.float().std(dim=(1, 2, 3)).min() > 1  # real content, not blank
