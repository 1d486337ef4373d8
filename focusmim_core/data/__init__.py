"""Datasets and images: STL-10 binaries, procedural scenes, a photo gallery, user uploads."""

from .gallery import GALLERY, gallery_image, gallery_images
from .images import IMAGE_SUFFIXES, MAX_UPLOAD_BYTES, image_files, load_image, to_uint8_image
from .registry import DATASETS, OFFLINE_PHOTO_DATASETS, PROBE_DATASETS, Dataset
from .stl10 import CLASS_NAMES, SPLITS, STL10, download_stl10, find_stl10, write_stl10_split
from .synthetic import SYNTHETIC_CLASSES, SyntheticScenes

__all__ = [
    "CLASS_NAMES",
    "DATASETS",
    "GALLERY",
    "IMAGE_SUFFIXES",
    "MAX_UPLOAD_BYTES",
    "OFFLINE_PHOTO_DATASETS",
    "PROBE_DATASETS",
    "SPLITS",
    "STL10",
    "SYNTHETIC_CLASSES",
    "Dataset",
    "SyntheticScenes",
    "download_stl10",
    "find_stl10",
    "gallery_image",
    "gallery_images",
    "image_files",
    "load_image",
    "to_uint8_image",
    "write_stl10_split",
]
