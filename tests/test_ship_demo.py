"""``train.ship_demo --continue``: a shipped checkpoint trained further keeps its count, history and report."""

from __future__ import annotations

import json
import shutil

import torch

from focusmim_core import load_checkpoint
from focusmim_core.checkpoints import SHIPPED_DIR, read_state_dict
from focusmim_core.evaluation import stored_report
from train import ship_demo
from train.demos import DEMOS
from train.pretrain import PretrainConfig


def test_continuing_a_shipped_checkpoint_accumulates_images_and_history(tmp_path):
    spec = next(spec for spec in DEMOS if spec.name == "periphery_0.8")
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    for suffix in (".safetensors", ".json"):
        shutil.copy(SHIPPED_DIR / f"{spec.name}{suffix}", folder / f"{spec.name}{suffix}")
    before = json.loads((folder / f"{spec.name}.json").read_text())
    before_weights = read_state_dict(folder / f"{spec.name}.safetensors")
    base = PretrainConfig(dataset="mixed", size=16, batch_size=8, learning_rate=1e-3, schedule="cosine", epochs=1000)
    entry = ship_demo.continue_demo(spec, base, tmp_path / "runs", 0.05, folder)

    _, meta = load_checkpoint(folder / f"{spec.name}.safetensors")
    assert meta.extra["images_seen"] == before["extra"]["images_seen"] + entry["images"] and entry["images"] > 0
    earlier = len(before["extra"].get("history") or [None])  # a first entry describes a checkpoint without history
    assert meta.extra["history"][-1] == entry and len(meta.extra["history"]) == earlier + 1
    assert sum(h["images"] for h in meta.extra["history"]) == meta.extra["images_seen"]
    assert meta.extra["command"].startswith("python -m train.pretrain") and "--init-from" in meta.extra["command"]
    assert meta.demo and meta.mode == spec.mode and meta.epochs > before["epochs"]
    report = stored_report(meta.metrics)
    assert report is not None and entry["after_gain"] == report.to_dict()["gain"]
    after_weights = read_state_dict(folder / f"{spec.name}.safetensors")
    assert after_weights["encoder.0.conv1.weight"].dtype == torch.float16  # shipped small
    assert any(not torch.equal(after_weights[k], before_weights[k]) for k in before_weights)

    text = ship_demo.write_table(folder).read_text()
    assert f"| `{spec.name}` |" in text and entry["recipe"] in text and "china" in text
