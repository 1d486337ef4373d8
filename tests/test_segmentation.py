"""Foreground confidence: rembg's own soft masks, the paper's keep/drop filter, offline provisioning."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from focusmim_core import SegmentationUnavailable, foreground, gallery_images, keep_images
from focusmim_core.segmentation import U2NETP_MD5, images_to_uint8, md5sum, model_home, provision_u2netp


def test_the_offline_model_is_provisioned_and_verified():
    path = provision_u2netp(download=False)
    assert path.name == "u2netp.onnx" and md5sum(path) == U2NETP_MD5


def test_a_damaged_model_file_is_not_trusted(tmp_path):
    (tmp_path / "u2netp.onnx").write_bytes(b"not a model")
    with pytest.raises(SegmentationUnavailable, match="make setup"):
        provision_u2netp(tmp_path, download=False)


def test_masks_equal_rembg_remove_within_one_level(monkeypatch):
    from rembg import new_session, remove

    monkeypatch.setenv("U2NET_HOME", str(model_home()))
    _, photos = gallery_images()
    batch = photos[:3]
    ours = foreground(batch)
    assert ours.shape == (3, 1, 96, 96) and float(ours.min()) >= 0 and float(ours.max()) <= 1
    session = new_session("u2netp")
    for i, array in enumerate(images_to_uint8(batch)):
        expected = np.asarray(remove(array, session=session, only_mask=True, post_process_mask=False))
        assert np.abs(ours[i, 0].numpy() * 255 - expected).max() <= 1.0


def test_objects_in_the_middle_are_foreground_and_kept():
    names, photos = gallery_images()
    batch = photos[[names.index("astronaut"), names.index("coffee")]]
    confidence = foreground(batch)[:, 0]
    centre = confidence[:, 28:68, 28:68].mean(dim=(1, 2))
    border = torch.cat([confidence[:, :8].flatten(1), confidence[:, -8:].flatten(1)], 1).mean(1)
    assert bool((centre > 0.6).all()) and bool((border < centre - 0.3).all())
    assert keep_images(confidence.unsqueeze(1)).tolist() == [True, True]


def test_keep_filter_needs_100_pixels_at_confidence_point_eight():
    masks = torch.zeros(4, 96, 96, dtype=torch.uint8)
    masks[0].view(-1)[:100] = 204  # exactly 100 pixels at 0.8: kept
    masks[1].view(-1)[:99] = 255  # 99 pixels: dropped
    masks[2].view(-1)[:5000] = 203  # many pixels just under 0.8: dropped
    masks[3].view(-1)[:150] = 230
    assert keep_images(masks).tolist() == [True, False, False, True]
    assert keep_images(masks.unsqueeze(1).float() / 255).tolist() == [True, False, False, True]
