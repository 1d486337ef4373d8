"""Dataset segmentation (paper 3.7): rembg's masks in one file, resumable, read back by pretraining."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from processes import failure_report

from focusmim_core import STL10, DatasetError, InputError, SyntheticScenes, gallery_images, keep_images
from focusmim_core.data import write_stl10_split
from focusmim_core.segmentation import images_to_uint8, model_home
from focusmim_core.segmentation_file import SegmentationPaths, load_segmentation, segment_dataset
from train import segment as segment_cli


class BrightnessModel:
    """A fast stand-in for rembg: the mask is each pixel's brightest channel; counts the images it sees."""

    name = "brightness"

    def __init__(self):
        self.images = 0

    def predict(self, images: np.ndarray) -> np.ndarray:
        self.images += len(images)
        return images.max(axis=-1)


class Interrupted(Exception):
    pass


def stop_after_first_chunk(chunk: int) -> None:
    raise Interrupted(chunk)


def synthetic_config(out, limit=10, chunk_size=4, **changes) -> segment_cli.SegmentConfig:
    return segment_cli.SegmentConfig(dataset="synthetic", limit=limit, chunk_size=chunk_size, out=str(out), **changes)


def test_written_masks_are_rembgs_soft_masks_with_the_papers_keep_flags(tmp_path, monkeypatch, capsys):
    from rembg import new_session, remove

    monkeypatch.setenv("U2NET_HOME", str(model_home()))
    out = tmp_path / "fg.npy"
    argv = ["--dataset", "synthetic", "--limit", "3", "--chunk-size", "2", "--device", "cpu", "--out", str(out)]
    assert segment_cli.main(argv) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["complete"] and summary["model"] == "u2netp" and summary["kept"] + summary["dropped"] == 3
    masks, keep = load_segmentation(out, 3)
    assert masks.shape == (3, 1, 96, 96) and masks.dtype == torch.uint8
    session = new_session("u2netp")
    images = images_to_uint8(SyntheticScenes("pretrain", length=3).batch(range(3))[0])
    for i, image in enumerate(images):
        expected = np.asarray(remove(image, session=session, only_mask=True, post_process_mask=False))
        assert np.abs(masks[i, 0].numpy().astype(int) - expected.astype(int)).max() <= 1
    assert keep.tolist() == keep_images(masks[:, 0]).tolist() and summary["kept"] == int(keep.sum())


def test_a_killed_run_resumes_without_recomputing_finished_chunks(tmp_path):
    out = tmp_path / "fg.npy"
    first = BrightnessModel()
    with pytest.raises(Interrupted):
        segment_cli.run(synthetic_config(out), model=first, on_chunk=stop_after_first_chunk)
    assert first.images == 4
    with pytest.raises(DatasetError, match="unfinished: 1 of 3 chunks"):
        load_segmentation(out, 10)
    resumed = BrightnessModel()
    record = segment_cli.run(synthetic_config(out), model=resumed)
    assert resumed.images == 6  # chunks 1 and 2 only
    assert record["complete"] and record["kept"] + record["dropped"] == 10
    masks, keep = load_segmentation(out, 10)
    reference = BrightnessModel()
    segment_cli.run(synthetic_config(tmp_path / "straight.npy"), model=reference)
    straight, straight_keep = load_segmentation(tmp_path / "straight.npy", 10)
    assert torch.equal(masks, straight) and torch.equal(keep, straight_keep)
    again = BrightnessModel()
    segment_cli.run(synthetic_config(out), model=again)  # a finished file is not recomputed
    assert again.images == 0


def test_resuming_into_another_datasets_file_is_refused_unless_overwriting(tmp_path):
    out = tmp_path / "fg.npy"
    with pytest.raises(Interrupted):
        segment_cli.run(synthetic_config(out), model=BrightnessModel(), on_chunk=stop_after_first_chunk)
    with pytest.raises(InputError, match="--overwrite"):
        segment_cli.run(synthetic_config(out, synthetic_seed=1), model=BrightnessModel())
    model = BrightnessModel()
    segment_cli.run(synthetic_config(out, synthetic_seed=1, overwrite=True), model=model)
    assert model.images == 10 and load_segmentation(out, 10)[0].shape[0] == 10
    stray = tmp_path / "stray.npy"
    np.save(stray, np.zeros((3, 96, 96), np.uint8))
    with pytest.raises(InputError, match="no segmentation record"):
        segment_cli.run(synthetic_config(stray), model=BrightnessModel())
    assert np.load(stray).shape == (3, 96, 96)  # the user's file is untouched


def test_stl10_masks_follow_the_datasets_image_order(tmp_path):
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (7, 3, 96, 96), dtype=torch.uint8, generator=generator)
    write_stl10_split(tmp_path / "stl10_binary", "unlabeled", images)
    config = segment_cli.SegmentConfig(data_root=str(tmp_path), chunk_size=3, out=str(tmp_path / "u.npy"))
    segment_cli.run(config, model=BrightnessModel())
    masks, _ = load_segmentation(tmp_path / "u.npy", len(STL10(tmp_path, "unlabeled")))
    assert torch.equal(masks[:, 0], images.max(dim=1).values)


def test_a_folder_of_images_is_segmented_in_name_order(tmp_path):
    _, photos = gallery_images()
    folder = tmp_path / "photos"
    folder.mkdir()
    for name, photo in zip(["b", "a"], photos[:2], strict=True):
        Image.fromarray(images_to_uint8(photo[None])[0]).save(folder / f"{name}.png")
    (folder / "notes.txt").write_text("not an image")
    config = segment_cli.SegmentConfig(dataset="folder", data_root=str(folder), out=str(tmp_path / "p.npy"))
    record = segment_cli.run(config, model=BrightnessModel())
    assert record["count"] == 2
    assert (tmp_path / "p.files.txt").read_text() == "a.png\nb.png\n"
    masks, _ = load_segmentation(tmp_path / "p.npy", 2)
    assert torch.equal(masks[0, 0], torch.from_numpy(images_to_uint8(photos[1:2])[0].max(-1)))


def test_a_nested_folder_lines_up_with_pretraining_on_the_same_folder(tmp_path):
    """Segmentation and ``pretrain --dataset folder`` list a folder alike (subfolders included, by path)."""
    from types import SimpleNamespace

    from train.training_data import load_training_data

    _, photos = gallery_images()
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    for name, photo in zip(["b.png", "sub/a.png", "a.png"], photos[:3], strict=True):
        Image.fromarray(images_to_uint8(photo[None])[0]).save(folder / name)
    config = segment_cli.SegmentConfig(dataset="folder", data_root=str(folder), out=str(tmp_path / "p.npy"))
    assert segment_cli.run(config, model=BrightnessModel())["count"] == 3
    assert (tmp_path / "p.files.txt").read_text() == "a.png\nb.png\nsub/a.png\n"
    settings = SimpleNamespace(
        dataset="folder", input_path=str(folder), limit=None, size=0, seed=0,
        segment_path=str(tmp_path / "p.npy"), remove_missing_segments=False,
    )
    data = load_training_data(settings, torch.device("cpu"))
    assert data.foreground is not None
    assert torch.equal(data.foreground[:, 0], data.images.max(dim=1).values)  # each mask is its own image's


def test_load_segmentation_explains_missing_and_mismatched_files(tmp_path):
    with pytest.raises(DatasetError, match="No segmentation file"):
        load_segmentation(tmp_path / "none.npy", 10)
    model = BrightnessModel()
    segment_dataset(lambda a, b: np.zeros((b - a, 96, 96, 3), np.uint8), 10, tmp_path / "s.npy", model, {"x": 1})
    with pytest.raises(DatasetError, match="segmentation file has 10 masks but the dataset has 12 images"):
        load_segmentation(tmp_path / "s.npy", 12)
    SegmentationPaths.of(tmp_path / "s.npy").record.unlink()
    with pytest.raises(DatasetError, match="no segmentation record"):
        load_segmentation(tmp_path / "s.npy", 10)


def test_the_cli_reports_a_missing_dataset_without_a_traceback(tmp_path, capsys):
    assert segment_cli.main(["--data-root", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x.npy")]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("out", "named"),
    [
        ("notes.txt/seg.npy", "notes.txt is a file, not a folder"),
        ("notes.txt/deeper/seg.npy", "notes.txt is a file, not a folder"),
        ("folder", "is a folder: give a file name"),
    ],
)
def test_an_out_path_that_cannot_be_a_file_gets_one_line_and_exit_2(tmp_path, capsys, out, named):
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "folder").mkdir()
    argv = ["--dataset", "synthetic", "--limit", "2", "--out", str(tmp_path / out)]
    assert segment_cli.main(argv) == 2
    err = capsys.readouterr().err
    assert named in err and err.count("\n") == 1 and "Traceback" not in err
    assert (tmp_path / "notes.txt").read_text() == "mine"


@pytest.mark.slow
def test_a_run_killed_with_sigkill_resumes_to_the_same_file(tmp_path):
    """SIGKILL (no handler runs) mid-run with the real rembg model: the next run finishes the same masks."""
    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(repo), "OMP_NUM_THREADS": "1"}

    def command(out: Path) -> list[str]:
        return [sys.executable, "-m", "train.segment", "--dataset", "synthetic", "--limit", "12", "--chunk-size", "2",
                "--device", "cpu", "--out", str(out)]  # fmt: skip

    out = tmp_path / "fg.npy"
    process = subprocess.Popen(command(out), env=env, cwd=repo, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    record = SegmentationPaths.of(out).record
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        done = json.loads(record.read_text()).get("done", []) if record.is_file() else []
        if len(done) >= 2 or process.poll() is not None:
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    finished = json.loads(record.read_text())
    assert not finished["complete"], "the run ended before it could be killed: make it longer"
    again = subprocess.run(command(out), env=env, cwd=repo, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, failure_report(again)
    straight = subprocess.run(command(tmp_path / "straight.npy"), env=env, cwd=repo, capture_output=True, text=True,
                              timeout=300)  # fmt: skip
    assert straight.returncode == 0, failure_report(straight)
    masks, keep = load_segmentation(out, 12)
    reference, reference_keep = load_segmentation(tmp_path / "straight.npy", 12)
    assert torch.equal(masks, reference) and torch.equal(keep, reference_keep)
