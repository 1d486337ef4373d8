"""Datasets: STL-10 binaries, procedural scenes, the photo gallery."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from focusmim_core import STL10, DatasetError, InputError, SyntheticScenes, gallery_image, gallery_images
from focusmim_core.data import DATASETS
from focusmim_core.data.stl10 import CLASS_NAMES, write_stl10_split
from train import probe, ship_demo
from train.pretrain import PretrainConfig


def write_official(folder, split, images_hwc: np.ndarray, labels: np.ndarray | None):
    """Write images (n, 96, 96, 3) uint8 exactly as the official files store them: per image the
    red plane, then green, then blue, each plane column by column (column-major)."""
    folder.mkdir(parents=True, exist_ok=True)
    planes = images_hwc.transpose(0, 3, 2, 1)  # (n, channel, column, row): rows vary fastest
    (folder / f"{split}_X.bin").write_bytes(np.ascontiguousarray(planes).tobytes())
    if labels is not None:
        (folder / f"{split}_y.bin").write_bytes(labels.astype(np.uint8).tobytes())


@pytest.fixture
def stl_root(tmp_path):
    generator = np.random.default_rng(0)
    images = generator.integers(0, 256, size=(6, 96, 96, 3), dtype=np.uint8)
    images[0] = 0
    images[0, 10, 70] = (255, 128, 7)  # row 10, column 70
    write_official(tmp_path / "stl10_binary", "train", images, np.array([1, 2, 3, 10, 5, 6]))
    write_official(tmp_path / "stl10_binary", "unlabeled", images[:3], None)
    return tmp_path, images


def test_reads_the_official_layout_with_x_as_column(stl_root):
    root, images = stl_root
    split = STL10(root, "train")
    assert len(split) == 6
    batch = split.uint8()
    assert batch.shape == (6, 3, 96, 96) and batch.dtype == torch.uint8
    assert batch[0, :, 10, 70].tolist() == [255, 128, 7]
    assert torch.equal(batch.permute(0, 2, 3, 1), torch.from_numpy(images))
    assert split.labels.tolist() == [0, 1, 2, 9, 4, 5]
    assert split.class_name(9) == "truck" and CLASS_NAMES[0] == "airplane"
    floats = split.images([3, 1])
    assert floats.dtype == torch.float32 and torch.allclose(floats[1] * 255, batch[1].float())


def test_accepts_the_folder_itself_and_unlabeled_split(stl_root):
    root, _ = stl_root
    unlabeled = STL10(root / "stl10_binary", "unlabeled")
    assert len(unlabeled) == 3 and unlabeled.labels is None


def test_writer_round_trips(tmp_path):
    images = torch.randint(0, 256, (3, 3, 96, 96), dtype=torch.uint8)
    write_stl10_split(tmp_path, "test", images, torch.tensor([0, 4, 9]))
    split = STL10(tmp_path, "test")
    assert torch.equal(split.uint8(), images) and split.labels.tolist() == [0, 4, 9]


def test_missing_folder_file_and_split_give_clear_errors(tmp_path, stl_root):
    with pytest.raises(DatasetError, match="does not exist.*download"):
        STL10(tmp_path / "nowhere", "train")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="No STL-10 files"):
        STL10(tmp_path / "empty", "train")
    root, _ = stl_root
    with pytest.raises(DatasetError, match="'test' is missing: .*test_X.bin"):
        STL10(root, "test")
    with pytest.raises(DatasetError, match="Unknown STL-10 split"):
        STL10(root, "validation")


def test_truncated_files_are_named(stl_root):
    root, _ = stl_root
    images_file = root / "stl10_binary" / "train_X.bin"
    images_file.write_bytes(images_file.read_bytes()[:-100])
    with pytest.raises(DatasetError, match="train_X.bin is truncated"):
        STL10(root, "train")


def test_label_count_mismatch_is_named(stl_root):
    root, _ = stl_root
    (root / "stl10_binary" / "train_y.bin").write_bytes(bytes([1, 2, 3]))
    with pytest.raises(DatasetError, match="train_y.bin holds 3 labels for 6 images"):
        STL10(root, "train")


def test_synthetic_scenes_are_deterministic_and_index_addressable():
    scenes = SyntheticScenes("train", seed=0)
    images, foreground, labels = scenes.batch(range(20))
    again, _, _ = scenes.batch([7, 3])
    assert torch.equal(again, images[[7, 3]])
    assert images.shape == (20, 3, 96, 96) and foreground.shape == (20, 1, 96, 96)
    assert float(images.min()) >= 0 and float(images.max()) <= 1
    assert labels.tolist() == [i % 10 for i in range(20)]
    coverage = foreground.mean(dim=(1, 2, 3))
    assert bool((coverage > 0.01).all()) and bool((coverage < 0.6).all())
    assert set(foreground.unique().tolist()) - {0.0, 1.0}  # soft, anti-aliased edges


def test_synthetic_splits_and_seeds_differ():
    first = SyntheticScenes("train", seed=0).batch(range(4))[0]
    assert not torch.equal(first, SyntheticScenes("test", seed=0).batch(range(4))[0])
    assert not torch.equal(first, SyntheticScenes("train", seed=1).batch(range(4))[0])


def foreground_centres(foreground: torch.Tensor) -> torch.Tensor:
    """Centre of mass (x, y) in pixels of each foreground map ``(N, 1, H, W)``: ``(N, 2)``."""
    grid = torch.arange(96, dtype=torch.float32) + 0.5
    mass = foreground[:, 0].sum(dim=(1, 2))
    x = (foreground[:, 0].sum(dim=1) * grid).sum(dim=1) / mass
    y = (foreground[:, 0].sum(dim=2) * grid).sum(dim=1) / mass
    return torch.stack([x, y], dim=1)


def test_centred_layout_keeps_objects_near_the_middle_and_scattered_spreads_them():
    centred = SyntheticScenes("train", layout="centred").batch(range(200))[1]
    scattered = SyntheticScenes("train", layout="scattered").batch(range(200))[1]
    offset_centred = (foreground_centres(centred) - 48).abs()
    offset_scattered = (foreground_centres(scattered) - 48).abs()
    # centres within 0.05 of the image side (4.8 px) plus the asymmetry of the shapes themselves
    assert float(offset_centred.max()) < 16
    assert float(offset_scattered.max()) > 16
    assert float(centred.mean()) > float(scattered.mean())  # larger objects
    with pytest.raises(ValueError, match="unknown layout 'middle'"):
        SyntheticScenes("train", layout="middle")


def test_every_synthetic_scene_has_object_and_background_pixels():
    _, foreground, _ = SyntheticScenes("val").batch(range(8))
    inside = foreground[:, 0] > 0.99
    outside = foreground[:, 0] < 0.01
    assert bool(inside.any(dim=(1, 2)).all()) and bool(outside.any(dim=(1, 2)).all())


def test_gallery_photos_are_96_pixel_rgb_images():
    names, batch = gallery_images()
    assert len(names) >= 6 and batch.shape == (len(names), 3, 96, 96)
    assert float(batch.min()) >= 0 and float(batch.max()) <= 1
    assert float(batch.std()) > 0.1  # real content, not blank
    single = gallery_image(names[0])
    assert torch.equal(single, batch[0])
    single.zero_()
    assert not torch.equal(gallery_image(names[0]), single)  # callers get copies
    with pytest.raises(KeyError):
        gallery_image("no such photo")


def accepts(parser, *argv: str) -> bool:
    """Whether an argparse command line accepts ``argv`` (argparse refuses by exiting)."""
    try:
        parser.parse_args(list(argv))
    except SystemExit:
        return False
    return True


@pytest.mark.parametrize("name", DATASETS)
def test_each_command_offers_the_datasets_the_registry_says_it_can_use(name, capsys):
    dataset = DATASETS[name]
    if dataset.folder is None:
        PretrainConfig(dataset=name).check()
    else:
        with pytest.raises(InputError, match=f"--dataset {name} needs --input-path: {dataset.folder}"):
            PretrainConfig(dataset=name).check()
    assert accepts(probe.build_parser(), probe.RAW_PIXELS, "--dataset", name) == dataset.labelled
    offline_photos = dataset.photographic and dataset.folder is None
    assert accepts(ship_demo.build_parser(), "--dataset", name) == offline_photos
