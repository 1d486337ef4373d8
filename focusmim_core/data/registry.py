"""The training datasets by name (``python -m train.pretrain --dataset NAME``): what each holds and needs."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class Dataset:
    """A dataset the trainer can read; ``train.training_data`` loads it."""

    name: str
    folder: str | None  # what ``--input-path`` must hold; None: made from what the installed packages ship
    labelled: bool  # has classes: the linear probe can score on it
    photographic: bool  # holds photographs (what the shipped demos learn from)


DATASETS: dict[str, Dataset] = {
    dataset.name: dataset
    for dataset in (
        Dataset(name="stl10", folder="the folder holding stl10_binary/", labelled=True, photographic=True),
        Dataset(name="synthetic", folder=None, labelled=True, photographic=False),
        Dataset(name="photos", folder=None, labelled=False, photographic=True),
        Dataset(name="mixed", folder=None, labelled=False, photographic=True),  # half scenes, half photo crops
        Dataset(name="folder", folder="a folder of image files", labelled=False, photographic=True),
    )
}
PROBE_DATASETS = tuple(name for name, dataset in DATASETS.items() if dataset.labelled)
OFFLINE_PHOTO_DATASETS = tuple(
    name for name, dataset in DATASETS.items() if dataset.photographic and dataset.folder is None
)
