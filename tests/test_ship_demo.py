"""``train.ship_demo --continue``: a shipped checkpoint trained further keeps its count, history and report."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from processes import failure_report

from focusmim_core import load_checkpoint
from focusmim_core.checkpoints import SHIPPED_DIR, read_state_dict
from focusmim_core.errors import InputError
from focusmim_core.evaluation import stored_report
from train import ship_demo
from train.demos import DEMOS
from train.pretrain import PretrainConfig

REPO = Path(__file__).resolve().parents[1]


def test_continuing_a_shipped_checkpoint_accumulates_images_and_history(tmp_path):
    spec = next(spec for spec in DEMOS if spec.name == "periphery_0.8")
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    for suffix in (".safetensors", ".json"):
        shutil.copy(SHIPPED_DIR / f"{spec.name}{suffix}", folder / f"{spec.name}{suffix}")
    before = json.loads((folder / f"{spec.name}.json").read_text())
    before_weights = read_state_dict(folder / f"{spec.name}.safetensors")
    base = PretrainConfig(dataset="mixed", size=16, batch_size=8, learning_rate=1e-3, schedule="cosine", epochs=1000)
    entry = ship_demo.continue_demo(spec, base, tmp_path / "runs" / spec.name, 0.05, folder, always_ship=True)

    _, meta = load_checkpoint(folder / f"{spec.name}.safetensors")
    assert meta.extra["images_seen"] == before["extra"]["images_seen"] + entry["images"] and entry["images"] > 0
    earlier = len(before["extra"].get("history") or [None])  # a first entry describes a checkpoint without history
    assert meta.extra["history"][-1] == entry and len(meta.extra["history"]) == earlier + 1
    assert sum(h["images"] for h in meta.extra["history"]) == meta.extra["images_seen"]
    assert meta.extra["command"].startswith("python -m train.pretrain") and "--init-from" in meta.extra["command"]
    assert meta.demo and meta.mode == spec.mode and meta.epochs > before["epochs"]
    assert meta.fixation == spec.fixation == "uniform" and "--fixation uniform" in entry["command"]  # its own policy
    report = stored_report(meta.metrics)
    assert report is not None and entry["after_gain"] == report.to_dict()["gain"]
    assert "probe" not in meta.metrics and "probe_runs" not in meta.metrics  # measured on the old weights
    after_weights = read_state_dict(folder / f"{spec.name}.safetensors")
    assert after_weights["encoder.0.conv1.weight"].dtype == torch.float16  # shipped small
    assert any(not torch.equal(after_weights[k], before_weights[k]) for k in before_weights)

    text = ship_demo.write_table(folder).read_text()
    assert f"| `{spec.name}` |" in text and entry["recipe"] in text and "china" in text


def test_a_demo_trained_afresh_ships_with_a_history_that_adds_up(tmp_path, monkeypatch):
    monkeypatch.setattr(ship_demo, "SHIPPED_DIR", tmp_path)
    spec = next(spec for spec in DEMOS if spec.name == "blurry_patches_0.6")
    base = PretrainConfig(dataset="mixed", size=16, batch_size=8, epochs=1)
    target = ship_demo.train_demo(spec, base, tmp_path / "runs", None)
    _, meta = load_checkpoint(target)
    (entry,) = meta.extra["history"]
    assert entry["images"] == meta.extra["images_seen"] == 16 and entry["command"] == meta.extra["command"]
    assert "batch 8" in entry["recipe"] and entry["after_gain"] == stored_report(meta.metrics).to_dict()["gain"]


def test_a_continued_run_that_came_out_worse_is_not_shipped(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(ship_demo, "SHIPPING_MARGIN", float("-inf"))  # any result counts as worse
    spec = next(spec for spec in DEMOS if spec.name == "blurry_patches_0.6")
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    for suffix in (".safetensors", ".json"):
        shutil.copy(SHIPPED_DIR / f"{spec.name}{suffix}", folder / f"{spec.name}{suffix}")
    files = {suffix: (folder / f"{spec.name}{suffix}").read_bytes() for suffix in (".safetensors", ".json")}
    base = PretrainConfig(dataset="mixed", size=16, batch_size=8, learning_rate=1e-3, schedule="cosine", epochs=1000)
    output = tmp_path / "runs" / spec.name
    ship_demo.continue_demo(spec, base, output, 0.05, folder)
    assert {suffix: (folder / f"{spec.name}{suffix}").read_bytes() for suffix in files} == files  # untouched
    mark = json.loads((output / ship_demo.SHIPPED_MARK).read_text())
    assert mark["kept_previous"] and (output / "last.safetensors").is_file()  # the run stays for inspection
    assert "the shipped weights are kept" in capsys.readouterr().out


def test_a_killed_continue_session_resumes_and_ships_once(tmp_path):
    """SIGKILL in the middle of a --continue session: --resume finishes it, counting every image once."""
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    names = ["blurry_patches_0.6", "blurry_periphery_0.8"]
    for name in names:
        for suffix in (".safetensors", ".json"):
            shutil.copy(SHIPPED_DIR / f"{name}{suffix}", folder / f"{name}{suffix}")
    before = {name: json.loads((folder / f"{name}.json").read_text()) for name in names}
    runs = tmp_path / "runs"
    args = ["-m", "train.ship_demo", "--continue", "--checkpoints", str(folder), "--runs", str(runs)]
    # 6 s per checkpoint: the kill lands at the first epoch's save (one step), well before the budget ends
    start = [*args, "--budget-minutes", "0.2", "--size", "8", "--batch-size", "8", "--only", *names, "--always-ship",
             "--dataset", "photos"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen([sys.executable, *start], env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 120
    while not list(runs.glob(f"*/{names[0]}/last.json")) and time.monotonic() < deadline:  # its first resumable save
        time.sleep(0.05)
    process.kill()
    process.wait()
    done = subprocess.run([sys.executable, *args, "--resume"], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert done.returncode == 0, failure_report(done)
    assert "Resuming the session" in done.stdout
    sessions = list(runs.glob("*/session.json"))
    assert len(sessions) == 1  # the same session, finished
    for name in names:
        meta = json.loads((folder / f"{name}.json").read_text())
        run_images = [json.loads(line) for line in (sessions[0].parent / name / "metrics.jsonl").open()][-1]["images"]
        assert meta["extra"]["images_seen"] == before[name]["extra"]["images_seen"] + run_images
        assert sum(h["images"] for h in meta["extra"]["history"]) == meta["extra"]["images_seen"]
        assert (sessions[0].parent / name / ship_demo.SHIPPED_MARK).is_file()
        assert "photos data" in meta["extra"]["history"][-1]["recipe"]  # the session's settings, resumed too
    again = subprocess.run([sys.executable, *args, "--resume"], env=env, cwd=REPO, capture_output=True, text=True,
                           timeout=300)  # fmt: skip
    assert again.returncode == 0 and again.stdout.count("already trained and shipped") == 2  # nothing twice


def test_a_shipped_file_without_history_is_refused_before_training(tmp_path):
    spec = next(spec for spec in DEMOS if spec.name == "blurry_patches_0.6")
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    shutil.copy(SHIPPED_DIR / f"{spec.name}.safetensors", folder / f"{spec.name}.safetensors")
    meta = json.loads((SHIPPED_DIR / f"{spec.name}.json").read_text())
    del meta["extra"]["history"]
    (folder / f"{spec.name}.json").write_text(json.dumps(meta))
    base = PretrainConfig(dataset="mixed", size=16, batch_size=8, epochs=1000)
    with pytest.raises(InputError, match="no training history"):
        ship_demo.continue_demo(spec, base, tmp_path / "runs" / spec.name, 0.05, folder)
    assert not (tmp_path / "runs").exists()  # nothing trained


def test_a_continue_budget_is_split_evenly_between_the_chosen_checkpoints(tmp_path, monkeypatch):
    given = {}
    monkeypatch.setattr(ship_demo, "continue_demo", lambda spec, base, output, minutes, *_: given.update(
        {spec.name: minutes}))  # fmt: skip
    monkeypatch.setattr(ship_demo, "write_table", lambda folder: folder)
    names = ["autoencoder", "latent_periphery_0.8"]
    assert ship_demo.main(["--continue", "--budget-minutes", "10", "--only", *names, "--runs", str(tmp_path)]) == 0
    assert given == {"autoencoder": 5.0, "latent_periphery_0.8": 5.0}


def test_an_explicit_learning_rate_replaces_every_chosen_checkpoints_own_rate():
    own = {spec.name: spec.learning_rate for spec in DEMOS}
    args = ship_demo.build_parser().parse_args(["--only", "periphery_0.8", "autoencoder"])
    kept = {spec.name: spec.learning_rate for spec in ship_demo.chosen_demos(args)}
    assert kept == {"autoencoder": own["autoencoder"], "periphery_0.8": own["periphery_0.8"]}
    assert own["periphery_0.8"] is not None and ship_demo.base_config(args).learning_rate == ship_demo.DEFAULT_RATE
    args = ship_demo.build_parser().parse_args(["--only", "periphery_0.8", "--learning-rate", "1e-3"])
    (spec,) = ship_demo.chosen_demos(args)
    assert spec.learning_rate == 1e-3 and ship_demo.base_config(args).learning_rate == 1e-3


def test_a_checkpoints_own_data_is_used_unless_the_command_line_names_other_data():
    base = ship_demo.base_config(ship_demo.build_parser().parse_args([]))
    assert (base.dataset, base.size) == (ship_demo.DEFAULT_DATASET, ship_demo.DEFAULT_SIZE)
    own = {spec.name: spec for spec in DEMOS}
    periphery, autoencoder = own["periphery_0.8"], own["autoencoder"]
    assert periphery.dataset is not None and autoencoder.dataset is None
    config = ship_demo.objective_config(base, periphery)
    assert (config.dataset, config.size) == (periphery.dataset, periphery.size)
    assert ship_demo.objective_config(base, autoencoder).dataset == ship_demo.DEFAULT_DATASET
    args = ship_demo.build_parser().parse_args(["--only", "periphery_0.8", "--dataset", "mixed", "--size", "64"])
    (spec,) = ship_demo.chosen_demos(args)
    config = ship_demo.objective_config(ship_demo.base_config(args), spec)
    assert (config.dataset, config.size) == ("mixed", 64)


def test_a_stopped_continue_session_ships_nothing_until_resumed(tmp_path, sigterm_at_step, stepping_clock, capsys):
    """SIGTERM (or Ctrl-C) mid-run: the run saves where it stood, nothing is shipped, --resume finishes it."""
    name = "blurry_patches_0.6"
    folder, runs = tmp_path / "checkpoints", tmp_path / "runs"
    folder.mkdir()
    for suffix in (".safetensors", ".json"):
        shutil.copy(SHIPPED_DIR / f"{name}{suffix}", folder / f"{name}{suffix}")
    shipped = (folder / f"{name}.json").read_text()
    sigterm_at_step(3)
    stepping_clock(0.5)  # a budget of 12 clock readings, a few more than 3 steps take, however busy the machine is
    args = ["--continue", "--checkpoints", str(folder), "--runs", str(runs)]
    start = [*args, "--budget-minutes", "0.1", "--size", "16", "--batch-size", "4", "--only", name, "--always-ship"]
    assert ship_demo.main(start) == ship_demo.STOPPED_EXIT
    out = capsys.readouterr().out
    assert "nothing was shipped" in out and "--continue --resume finishes the session" in out
    (run_folder,) = runs.glob(f"*/{name}")
    assert (folder / f"{name}.json").read_text() == shipped and not (run_folder / ship_demo.SHIPPED_MARK).exists()
    assert (run_folder / "last.safetensors").is_file()
    sigterm_at_step(None)
    assert ship_demo.main([*args, "--resume"]) == 0
    assert (run_folder / ship_demo.SHIPPED_MARK).is_file() and (folder / f"{name}.json").read_text() != shipped
