"""Pretraining: every mode trains and writes loadable checkpoints; runs resume exactly; DDP equals one process."""

from __future__ import annotations

import errno
import itertools
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from processes import failure_report, torchrun

import train.pretrain as pretrain
import train.resume as resume
from focusmim_core import Autoencoder, list_checkpoints, load_checkpoint
from focusmim_core.checkpoints import read_state_dict

REPO = Path(__file__).resolve().parents[1]
TINY = ["--dataset", "synthetic", "--limit", "8", "--batch-size", "4", "--epochs", "1"]


def weights(path: Path) -> dict[str, torch.Tensor]:
    """The model tensors of a checkpoint file."""
    return read_state_dict(path)


@pytest.mark.parametrize(
    "options",
    [
        ["--masking-mode", "None"],
        ["--masking-mode", "random_patches", "--masking-ratio", "0.6"],
        ["--masking-mode", "periphery", "--masking-ratio", "0.8", "--fixation", "uniform"],
        ["--masking-mode", "periphery_square", "--fill", "blur", "--attention", "random"],
        ["--masking-mode", "foveate", "--fixation", "foreground", "--attention", "foreground"],
        ["--masking-mode", "random_patches", "--blur", "True", "--random-crop", "False", "--foreground-loss", "True"],
    ],
    ids=["none", "patches", "periphery-uniform", "square-blur-attention", "foveate-foreground", "blurry-fgloss"],
)
def test_every_mode_trains_and_writes_loadable_checkpoints(tmp_path, capsys, options):
    out = tmp_path / "run"
    assert pretrain.main([*TINY, "--epochs", "2", "--output-path", str(out), *options]) == 0
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [line["epoch"] for line in lines] == [1, 2]
    for line in lines:
        assert line["loss"] > 0 and line["images"] > 0 and line["images_per_second"] > 0
        assert {"decorrelation", "unit_sparsity", "population_sparsity", "learning_rate", "seconds"} <= set(line)
    names = {info.path.name for info in list_checkpoints(out)}
    assert {"best.safetensors", "epoch_0000.safetensors", "last.safetensors"} <= names
    model, meta = load_checkpoint(out / "last.safetensors")
    assert meta.epochs == 2 and meta.seed == 0
    expected_mode = "none" if options[1] == "None" else options[1]
    assert meta.mode == expected_mode
    assert meta.fill == ("blur" if "blur" in options or "True" in options[:4] else "mean")
    recon, latent = model(torch.rand(1, 3, 96, 96))
    assert recon.shape == (1, 3, 96, 96) and latent.shape == (1, 128, 12, 12)
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == {"output_path": str(out)}


def test_training_lowers_the_loss(tmp_path):
    out = tmp_path / "run"
    args = ["--dataset", "synthetic", "--limit", "16", "--batch-size", "16", "--epochs", "6", "--random-crop", "False"]
    args += ["--masking-mode", "periphery", "--masking-ratio", "0.8", "--learning-rate", "2e-3"]
    assert pretrain.main([*args, "--output-path", str(out)]) == 0
    losses = [json.loads(line)["loss"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert min(losses[1:]) < 0.9 * losses[0]
    best = json.loads((out / "best.json").read_text())
    assert best["metrics"]["loss"] == pytest.approx(min(losses))


def test_interrupted_and_resumed_run_ends_with_the_same_weights(tmp_path, sigterm_at_step):
    args = [*TINY, "--limit", "12", "--epochs", "3", "--masking-mode", "random_patches", "--fixation", "uniform"]
    assert pretrain.main([*args, "--output-path", str(tmp_path / "straight")]) == 0

    sigterm_at_step(4)  # mid-epoch 2 (3 steps per epoch)
    interrupted = tmp_path / "interrupted"
    assert pretrain.main([*args, "--output-path", str(interrupted)]) == 0
    assert len((interrupted / "metrics.jsonl").read_text().splitlines()) == 1  # stopped inside epoch 2
    sigterm_at_step(None)
    assert pretrain.main([*args, "--output-path", str(interrupted)]) == 2  # refuses to overwrite without --resume
    assert pretrain.main([*args, "--output-path", str(interrupted), "--resume"]) == 0

    straight, resumed = weights(tmp_path / "straight" / "last.safetensors"), weights(interrupted / "last.safetensors")
    assert straight.keys() == resumed.keys()
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)
    lines = [json.loads(line) for line in (interrupted / "metrics.jsonl").read_text().splitlines()]
    reference = [json.loads(line) for line in (tmp_path / "straight" / "metrics.jsonl").read_text().splitlines()]
    assert [line["loss"] for line in lines] == [line["loss"] for line in reference]


@pytest.mark.slow
@pytest.mark.usefixtures("one_thread")  # the one-process run here, the same as each rank
def test_two_process_ddp_matches_one_process_with_the_same_global_batch(tmp_path):
    # one batch per epoch = the whole set, so both runs see the same global batch every step
    args = ["--dataset", "synthetic", "--limit", "8", "--batch-size", "8", "--epochs", "2", "--random-crop", "False"]
    args += ["--masking-mode", "periphery", "--device", "cpu"]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    runs = {}
    for optimizer in ("sgd", "adam"):
        runs[optimizer, "one"], runs[optimizer, "two"] = tmp_path / f"{optimizer}-one", tmp_path / f"{optimizer}-two"
        assert pretrain.main([*args, "--optimizer", optimizer, "--output-path", str(runs[optimizer, "one"])]) == 0
        command = [*torchrun(), "-m", "train.pretrain", *args, "--optimizer", optimizer]
        done = subprocess.run([*command, "--output-path", str(runs[optimizer, "two"])], env=env, capture_output=True,
                              text=True, cwd=REPO, timeout=300)  # fmt: skip
        assert done.returncode == 0, failure_report(done)
    names = list(Autoencoder().state_dict())  # model weights only: no optimizer or RNG state
    for optimizer in ("sgd", "adam"):
        one, two = (weights(runs[optimizer, name] / "last.safetensors") for name in ("one", "two"))
        start = weights(runs[optimizer, "one"] / "epoch_0000.safetensors")
        assert any(not torch.equal(one[k], start[k]) for k in names)  # the second epoch did change the weights
        difference = max(float((one[k] - two[k]).abs().max()) for k in names)
        if optimizer == "sgd":  # the all-reduce sums in another order: rounding of lr * gradient, no more
            assert difference < 1e-6
        else:  # Adam's first steps are about +-lr whatever the gradient's size: near-zero gradients may flip
            assert difference < 2 * 2 * 1e-3  # two steps of at most 2 * lr each (the default lr 1e-3)
        losses, reference = (
            [json.loads(line)["loss"] for line in (runs[optimizer, name] / "metrics.jsonl").read_text().splitlines()]
            for name in ("two", "one")
        )
        assert losses == pytest.approx(reference, rel=1e-5)
    for optimizer in ("sgd", "adam"):  # latent statistics of the global batch, not of rank 0's shard
        logs = {
            name: [json.loads(line) for line in (runs[optimizer, name] / "metrics.jsonl").read_text().splitlines()]
            for name in ("one", "two")
        }
        for key in ("decorrelation", "unit_sparsity", "population_sparsity"):
            assert [r[key] for r in logs["two"]] == pytest.approx([r[key] for r in logs["one"]], rel=1e-3), key


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--masking-mode", "periphery", "--masking-ratio", "1.5"], "outside (0, 1)"),
        (["--masking-mode", "random_patches", "--masking-ratio", "0"], "outside (0, 1)"),
        (["--masking-mode", "zoom"], "Unknown --masking-mode 'zoom'"),
        (["--masking-mode", "random_patches", "--attention", "random"], "Covert attention needs"),
        (["--dataset", "stl10", "--input-path", "/nonexistent/stl10"], "does not exist"),
        (["--dataset", "photos", "--fixation", "foreground", "--masking-mode", "periphery"], "need foreground maps"),
        (["--device", "cuda"] if not torch.cuda.is_available() else ["--batch-size", "0"], "--"),
    ],
)
def test_bad_settings_give_a_clear_message_and_exit_code_2(tmp_path, capsys, options, message):
    assert pretrain.main([*TINY, "--output-path", str(tmp_path / "run"), *options]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err


def test_truncated_stl10_file_is_named(tmp_path, capsys):
    folder = tmp_path / "stl10_binary"
    folder.mkdir()
    (folder / "unlabeled_X.bin").write_bytes(bytes(3 * 96 * 96 + 5))
    assert pretrain.main(["--input-path", str(tmp_path), "--output-path", str(tmp_path / "run"), "--epochs", "1"]) == 2
    assert "unlabeled_X.bin is truncated" in capsys.readouterr().err


def test_reference_command_line_is_accepted():
    command = (
        "--input-path data --output-path out --masking-mode None --masking-ratio 0.5 --blur True "
        "--random-crop False --learning-rate 5e-3 --epochs 500 --seed 3 --segment_path seg.npy "
        "--remove-missing-segments True"
    )
    config = pretrain.parse_config(command.split(" "))
    recipe = config.recipe()
    assert (recipe.mode, recipe.fill, recipe.random_crop, recipe.foreground_loss) == ("none", "blur", False, True)
    assert (config.learning_rate, config.epochs, config.seed, config.segment_path) == (5e-3, 500, 3, "seg.npy")
    assert config.remove_missing_segments is True and config.batch_size == 512 and config.weight_decay == 1e-8


class LeftHalfForeground:
    """A stand-in for rembg: images 0-3 get a confident foreground (kept), the rest none (dropped)."""

    name = "left-half"

    def __init__(self):
        self.seen = 0

    def predict(self, images):
        masks = images.max(axis=-1) * 0
        if self.seen < 4:
            masks[:, :, :48] = 255
        self.seen += len(images)
        return masks


def test_segmentation_file_filters_images_and_weights_the_loss(tmp_path, capsys):
    from train import segment

    seg = tmp_path / "seg.npy"
    segment.run(
        segment.SegmentConfig(dataset="synthetic", limit=8, chunk_size=4, out=str(seg)), model=LeftHalfForeground()
    )
    args = [*TINY, "--masking-mode", "periphery", "--segment-path", str(seg), "--output-path", str(tmp_path / "run")]
    assert pretrain.main([*args, "--remove-missing-segments", "True"]) == 0
    out = capsys.readouterr().out
    assert "4 kept by the segmentation filter" in out
    meta = json.loads((tmp_path / "run" / "last.json").read_text())
    assert meta["foreground_loss"] is True
    line = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[0])
    assert line["foreground_mse"] == line["loss"] and line["masked_mse"] is None

    wrong = [*TINY, "--limit", "6", "--segment-path", str(seg), "--output-path", str(tmp_path / "wrong")]
    assert pretrain.main(wrong) == 2
    assert "segmentation file has 8 masks but the dataset has 6 images" in capsys.readouterr().err


def test_learning_rate_schedules_warm_up_and_decay():
    from focusmim_core.pretraining import scheduled_learning_rate as rate

    assert rate(1e-3, 0.5) == 1e-3  # constant, the paper's
    assert rate(1e-3, 0.01, warmup=0.02) == pytest.approx(0.5e-3)  # halfway through the warm-up
    assert rate(1e-3, 0.02, "cosine", warmup=0.02) == pytest.approx(1e-3)
    assert rate(1e-3, 0.51, "cosine", warmup=0.02) == pytest.approx(0.5e-3)
    assert rate(1e-3, 1.0, "cosine") == pytest.approx(0.0, abs=1e-12)
    values = [rate(1e-3, t / 50, "cosine", 0.1) for t in range(5, 51)]
    assert all(a >= b for a, b in itertools.pairwise(values))  # never rises after the warm-up


def test_a_run_can_start_from_a_checkpoints_weights(tmp_path):
    first = tmp_path / "first"
    assert pretrain.main([*TINY, "--output-path", str(first)]) == 0
    source = weights(first / "last.safetensors")
    for name, extra in (("fresh", []), ("continued", ["--init-from", str(first / "last.safetensors")])):
        options = [*TINY, "--optimizer", "sgd", "--learning-rate", "1e-9", "--seed", "1"]
        assert pretrain.main([*options, "--output-path", str(tmp_path / name), *extra]) == 0
    continued, fresh = (weights(tmp_path / name / "last.safetensors") for name in ("continued", "fresh"))
    assert all(torch.allclose(continued[k], source[k], atol=1e-6) for k in source)  # a tiny step from the source
    assert not all(torch.allclose(fresh[k], source[k], atol=1e-6) for k in source)  # another seed starts elsewhere


def test_a_missing_init_checkpoint_is_named(tmp_path, capsys):
    assert pretrain.main([*TINY, "--output-path", str(tmp_path / "run"), "--init-from", str(tmp_path / "x.pt")]) == 2
    assert "No checkpoint at" in capsys.readouterr().err


def test_the_time_budget_ends_the_run_and_the_cosine_with_it(tmp_path, capsys, stepping_clock):
    stepping_clock(0.5)
    out = tmp_path / "run"
    options = ["--dataset", "synthetic", "--limit", "8", "--batch-size", "4", "--epochs", "100000"]
    options += ["--schedule", "cosine", "--max-minutes", "0.15", "--output-path", str(out)]
    assert pretrain.main(options) == 0
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert 2 <= len(lines) < 100000 and "Time budget of 0.15 min reached" in capsys.readouterr().out
    rates = [line["learning_rate"] for line in lines]
    assert rates[-1] < rates[0] and all(a >= b for a, b in itertools.pairwise(rates))  # the cosine follows the clock
    spent = resume.read_counters(out / "last.safetensors").seconds
    assert 0.15 * 60 - 1.0 < spent < 0.15 * 60 + 1.0  # stopped at the step past the budget, not epochs later
    assert load_checkpoint(out / "last.safetensors")[1].epochs == len(lines)


def logged_lines(path: Path) -> int:
    """How many whole lines ``path`` holds (0 when it does not exist yet)."""
    return path.read_text().count("\n") if path.is_file() else 0


def saved_epochs(path: Path) -> int:
    """The epochs recorded in a checkpoint's sidecar JSON (0 when there is none yet)."""
    return json.loads(path.read_text())["epochs"] if path.is_file() else 0


def wait_for(process: subprocess.Popen, ready, what: str) -> None:
    """Poll until ``ready()`` holds; fail naming ``what`` if the process exits first or after two minutes."""
    deadline = time.monotonic() + 120
    while not ready():
        assert process.poll() is None and time.monotonic() < deadline, f"the run never reached: {what}"
        time.sleep(0.01)  # a poll interval: the event is the file's content, not the time


@pytest.mark.slow
@pytest.mark.parametrize("point", ["log line written", "checkpoint saved"])
def test_a_run_killed_with_sigkill_resumes_from_its_last_checkpoint(tmp_path, point):
    """SIGKILL (no handler runs) at a logged point of a run: --resume loses at most the epoch in progress.

    ``log line written``: epoch 2's line is in metrics.jsonl, its checkpoint may not be saved yet;
    ``checkpoint saved``: ``last`` holds epoch 2 and the kill lands in epoch 3.
    """
    out = tmp_path / "run"
    args = ["-m", "train.pretrain", "--dataset", "synthetic", "--limit", "4", "--batch-size", "2"]
    args += ["--epochs", "8", "--output-path", str(out)]  # two short steps per epoch; the kill lands in epoch 2 or 3
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen([sys.executable, *args], env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    log = out / "metrics.jsonl"
    if point == "log line written":
        wait_for(process, lambda: logged_lines(log) >= 2, point)
    else:
        wait_for(process, lambda: saved_epochs(out / "last.json") >= 2, point)
    process.kill()
    process.wait()
    before = [json.loads(line) for line in log.read_text().splitlines() if line.endswith("}")]
    saved = saved_epochs(out / "last.json")
    done = subprocess.run([sys.executable, *args, "--resume"], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, failure_report(done)
    resumed_at = int(re.search(r"Resuming at epoch (\d+)", done.stdout).group(1))
    assert resumed_at == saved + 1 >= len(before)  # from the last checkpoint: at most the epoch in progress lost
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [line["epoch"] for line in lines] == list(range(1, 9))  # no gap, no duplicate
    for name in ("last", "best", "epoch_0000"):
        load_checkpoint(out / f"{name}.safetensors")  # every file whole


def test_a_full_disk_while_saving_gives_a_message_and_keeps_the_previous_checkpoint(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    assert pretrain.main([*TINY, "--output-path", str(out)]) == 0
    previous = (out / "last.safetensors").read_bytes()
    real_save = resume.save_file

    def full_disk(tensors, filename, metadata=None):
        real_save(tensors, filename, metadata=metadata)  # the temporary file is written, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device", filename)

    monkeypatch.setattr(resume, "save_file", full_disk)
    assert pretrain.main([*TINY, "--epochs", "2", "--output-path", str(out), "--resume"]) == 2
    err = capsys.readouterr().err
    assert "No space left on device" in err and "--resume" in err and "Traceback" not in err
    assert (out / "last.safetensors").read_bytes() == previous  # untouched
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]  # no half-written leftovers


def test_resuming_drops_log_lines_written_after_the_last_checkpoint(tmp_path):
    log = tmp_path / "metrics.jsonl"
    log.write_text("".join(json.dumps({"epoch": e, "loss": 0.1}) + "\n" for e in (1, 2, 3)) + '{"epoch": 4, "lo')
    assert resume.trim_metrics(log, 2) == 2  # epoch 3 (after the checkpoint) and the half-written line
    assert [json.loads(line)["epoch"] for line in log.read_text().splitlines()] == [1, 2]
    assert resume.trim_metrics(log, 2) == 0 and resume.trim_metrics(tmp_path / "none.jsonl", 5) == 0


@pytest.mark.parametrize("content", ["hello world\n", "not a checkpoint\n" * 20, ""])
def test_a_text_file_given_to_init_from_is_named_in_one_line(tmp_path, capsys, content):
    text = tmp_path / "notes.pt"
    text.write_text(content)
    assert pretrain.main([*TINY, "--output-path", str(tmp_path / "run"), "--init-from", str(text)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and text.name in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("where", ["the path", "a parent"])
def test_an_output_path_that_is_a_file_is_named_as_a_file(tmp_path, capsys, where):
    blocking = tmp_path / "taken"
    blocking.write_text("someone's file\n")
    output = blocking if where == "the path" else blocking / "run"
    assert pretrain.main([*TINY, "--output-path", str(output)]) == 2
    err = capsys.readouterr().err
    assert f"{blocking} is a file, not a folder" in err and "space" not in err and "Traceback" not in err
    assert blocking.read_text() == "someone's file\n"  # left as it was
