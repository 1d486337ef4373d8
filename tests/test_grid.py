"""The experiment grids (``python -m train.grid``): cells and their commands from the table of experiments, a tiny
real grid run that reports, skips and resumes, submitit's local executor, the SLURM script, and requeue on
preemption."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from focusmim_core import experiments
from focusmim_core.errors import InputError
from focusmim_core.experiments import Condition, Paper, paper_accuracy
from focusmim_core.probe import RawPixels, encode_features
from focusmim_core.results import (
    RESULTS_FILE,
    SETTINGS_FILE,
    append_result,
    markdown_table,
    read_grid_settings,
    read_result_lines,
    read_results,
    summarise,
)
from train import grid as grids
from train.cli import config_argv
from train.pretrain import PretrainConfig, build_parser, config_from_args

REPO = Path(__file__).resolve().parents[1]
# One step of eight images per cell and a probe on ten images per split: the grid's machinery is under test here,
# not what the network learns, and each cell's two subprocesses (trainer, probe) cost their start-up anyway.
TINY = ["--dataset", "synthetic", "--size", "8", "--batch-size", "8", "--epochs", "1", "--device", "cpu"]
QUICK_PROBE = ["--probe-limit", "10", "--probe-seeds", "2"]


@pytest.fixture(autouse=True)
def child_environment(monkeypatch):
    """Cells run ``python -m train...`` in subprocesses: from the repository, one thread each."""
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.chdir(REPO)


def dry_run(capsys, *argv: str) -> dict[str, list[list[str]]]:
    """The commands ``--dry-run`` prints, by cell id."""
    assert grids.main([*argv, "--dry-run"]) == 0
    cells, current = {}, None
    for line in capsys.readouterr().out.splitlines():
        if line.startswith("# "):
            current = cells.setdefault(line[2:], [])
        elif current is not None:
            current.append(line.split())
    return cells


def flag(command: list[str], name: str) -> str | None:
    """The value after ``name`` in a command line (None when absent)."""
    return command[command.index(name) + 1] if name in command else None


def test_fig4_dry_run_lists_40_cells_with_the_paper_flags(capsys, tmp_path):
    cells = dry_run(capsys, "fig4", "--out", str(tmp_path / "fig4"), "--input-path", "data/stl10")
    assert len(cells) == 40
    names = {cell.rsplit("-s", 1)[0] for cell in cells}
    assert names == {c.name for c in grids.GRIDS["fig4"].conditions} and len(names) == 8
    assert {cell.rsplit("-s", 1)[1] for cell in cells} == {"0", "1", "2", "3", "4"}
    pretrain = {cell: commands[0] for cell, commands in cells.items() if len(commands) == 2}
    assert len(pretrain) == 35  # raw pixels: a probe only
    for cell, command in pretrain.items():
        assert command[1:3] == ["-m", "train.pretrain"] and "--resume" in command
        assert flag(command, "--epochs") == "500" and flag(command, "--dataset") == "stl10"
        assert flag(command, "--seed") == (None if cell.endswith("-s0") else cell[-1])
        assert flag(command, "--output-path") == str(tmp_path / "fig4" / "cells" / cell)
    no_crop = pretrain["periphery_0.8_no_crop-s2"]
    assert flag(no_crop, "--masking-mode") == "periphery" and flag(no_crop, "--masking-ratio") == "0.8"
    assert flag(no_crop, "--random-crop") == "False" and flag(no_crop, "--learning-rate") == "0.001"
    assert flag(pretrain["blurry_patches_0.6-s0"], "--fill") == "blur"
    assert flag(pretrain["blurry_patches_0.6-s0"], "--learning-rate") == "0.005"
    assert flag(pretrain["foveate-s1"], "--masking-mode") == "foveate"
    assert flag(pretrain["autoencoder-s1"], "--masking-mode") == "none"
    probe = cells["random_patches_0.6-s3"][1]
    assert probe[3] == str(tmp_path / "fig4" / "cells" / "random_patches_0.6-s3" / "best.safetensors")
    assert flag(probe, "--seeds") == "5" and flag(probe, "--data-root") == "data/stl10"
    raw = [cells[f"raw_pixels-s{seed}"][0] for seed in range(5)]
    assert {command[3] for command in raw} == {"raw-pixels"}
    assert [flag(command, "--first-seed") for command in raw] == ["0", "5", "10", "15", "20"]


def test_options_of_the_trainer_override_the_whole_grid(capsys, tmp_path):
    cells = dry_run(capsys, "ratios", "--out", str(tmp_path), "--seeds", "7", "--epochs", "3", "--batch-size", "64")
    assert len(cells) == 18
    ratios = sorted(flag(commands[0], "--masking-ratio") for commands in cells.values())
    assert ratios == sorted([f"0.{r}" for r in range(1, 10)] * 2)
    for commands in cells.values():
        assert flag(commands[0], "--epochs") == "3" and flag(commands[0], "--batch-size") == "64"
        assert flag(commands[0], "--seed") == "7"


def test_torchrun_runs_each_cell_on_several_processes(capsys, tmp_path):
    cells = dry_run(capsys, "fig4", "--out", str(tmp_path), "--launcher", "torchrun", "--nproc-per-node", "4")
    command = cells["foveate-s0"][0]
    assert command[1:4] == ["-m", "torch.distributed.run", "--standalone"] and "--nproc-per-node=4" in command
    assert command[command.index("-m", 2) + 1] == "train.pretrain"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["fig4", "--output-path", "x"], "--output-path is set per cell by the grid: use --out"),
        (["fig4", "--seed", "3"], "use --seeds"),
        (["foreground"], "The foreground grid needs --segment-path"),
        (["fig4", "--only", "periphery_0.9"], "--only: periphery_0.9 not in fig4"),
        (["fig4", "--learning-rate", "-1", "--input-path", "d"], "--learning-rate must be positive"),
        (["fig4"], "--dataset stl10 needs --input-path"),
        (["report", "nowhere"], "nowhere is not a grid folder"),
    ],
)
def test_bad_grid_options_get_a_message(capsys, tmp_path, argv, message):
    argv = [*argv, "--out", str(tmp_path / "s")] if argv[0] != "report" else argv
    assert grids.main(argv) == 2
    assert message in capsys.readouterr().err


def test_the_command_line_of_a_config_parses_back_into_it():
    config = PretrainConfig(
        dataset="synthetic", masking_mode="periphery", masking_ratio=0.75, random_crop=False, fill="blur",
        crop_scale=(0.2, 1.0), learning_rate=3e-4, max_minutes=2.5, resume=True, segment_path="seg.npy",
    )  # fmt: skip
    argv = config_argv(config, bool_values=True, flags=("resume", "demo"))
    assert config_from_args(PretrainConfig, build_parser().parse_args(argv)) == config
    assert config_argv(PretrainConfig(), bool_values=True, flags=("resume", "demo")) == []


def test_grid_results_skip_deeply_nested_and_wrongly_typed_lines_and_say_why(tmp_path):
    (tmp_path / SETTINGS_FILE).write_text(json.dumps({"grid": "fig4", "conditions": ["a"], "seeds": [0]}))
    good = {"cell": "a-s0", "condition": "a", "label": "A", "accuracy_mean": 0.5}
    wrong = [{**good, "cell": "a-s1", "label": {"x": 1}}, {**good, "cell": "a-s2", "paper": ["x"]}, {"cell": "a-s3"}]
    lines = [json.dumps(good), "[" * 100_000, *map(json.dumps, wrong)]
    (tmp_path / RESULTS_FILE).write_text("\n".join(lines) + "\n")
    results, problems = read_result_lines(tmp_path)
    assert set(results) == {"a-s0"} and [summary.seeds for summary in summarise(tmp_path)] == [1]
    assert [problem.split(":")[0] for problem in problems] == [f"line {n}" for n in (2, 3, 4, 5)]
    assert "deeper than" in problems[0] and "'label' must be str, not dict" in problems[1]
    assert "'paper' must be" in problems[2] and "no condition, accuracy_mean" in problems[3]


@pytest.mark.parametrize(
    ("settings", "problem"),
    [("[" * 100_000, "deeper than"), ('{"grid": "fig4", "conditions": 5}', "'conditions' must be list, not int"),
     ('{"grid": "fig4", "seeds": ["zero"]}', "'seeds[0]' must be int, not str"), ("[]", "a JSON object is expected")],
)  # fmt: skip
def test_a_grid_settings_file_nested_too_deeply_or_wrongly_typed_is_refused_with_a_message(tmp_path, settings, problem):
    (tmp_path / SETTINGS_FILE).write_text(settings)
    with pytest.raises(InputError, match=re.escape(problem)):
        read_grid_settings(tmp_path)
    assert grids.main(["report", str(tmp_path)]) == 2  # the report says so too, without a traceback


def test_raw_pixels_are_a_probe_encoder():
    images = __import__("torch").rand(5, 3, 96, 96)
    features = encode_features(RawPixels().encode, lambda index: images[index], 5, batch_size=2)
    assert features.shape == (5, 27_648) and features.equal(images.reshape(5, -1))


def test_results_are_summarised_per_condition_next_to_the_paper(tmp_path):
    (tmp_path / SETTINGS_FILE).write_text(json.dumps({"grid": "fig4", "conditions": ["b", "a"], "seeds": [0, 1]}))
    for cell, condition, accuracy in [("a-s0", "a", 0.5), ("a-s1", "a", 0.7), ("b-s0", "b", 0.2), ("a-s1", "a", 0.6)]:
        record = {"cell": cell, "condition": condition, "label": condition.upper(), "accuracy_mean": accuracy}
        append_result(tmp_path, {**record, "paper": "periphery_0.8" if condition == "a" else None})
    with open(tmp_path / RESULTS_FILE, "a") as handle:
        handle.write('{"cell": "c-s0", "condition": "c", "accuracy_mean": "n/a"}\n{"cell": "cut sh')
    assert set(read_results(tmp_path)) == {"a-s0", "a-s1", "b-s0"}  # the last record of a cell wins
    summary = summarise(tmp_path)
    assert [item.name for item in summary] == ["b", "a"]  # the grid's order
    assert summary[1].mean == pytest.approx(55.0) and summary[1].std == pytest.approx(7.0710678, abs=1e-5)
    assert summary[1].paper == 68.0 and summary[0].paper is None and summary[0].seeds == 1
    assert "| A | 2 | 55.0 ± 7.1 | 68.0 |" in markdown_table(summary)


def test_results_written_with_the_papers_label_still_find_its_number(tmp_path):
    (tmp_path / SETTINGS_FILE).write_text(json.dumps({"grid": "fig4", "conditions": ["d"], "seeds": [0]}))
    append_result(tmp_path, {"cell": "d-s0", "condition": "d", "accuracy_mean": 0.6, "paper_entry": "random patches"})
    assert summarise(tmp_path)[0].paper == 70.3


def test_a_condition_added_to_the_table_is_one_entry_for_the_grid_and_the_paper_lookup(capsys, monkeypatch, tmp_path):
    added = Condition(
        name="square_0.7", label="Square periphery 0.7", mode="periphery_square", ratio=0.7, learning_rate=2e-3,
        paper=Paper("square periphery", 61.5), grids=("fig4", "ratios"),
    )  # fmt: skip
    monkeypatch.setitem(experiments.CONDITIONS, added.name, added)
    monkeypatch.setattr(grids, "GRIDS", grids.build_grids())
    cells = dry_run(capsys, "fig4", "--out", str(tmp_path / "fig4"), "--input-path", "data/stl10")
    command = cells["square_0.7-s0"][0]
    assert flag(command, "--masking-mode") == "periphery_square" and flag(command, "--masking-ratio") == "0.7"
    assert flag(command, "--learning-rate") == "0.002" and len(cells) == 45
    ratios = dry_run(capsys, "ratios", "--out", str(tmp_path / "ratios"), "--seeds", "0")
    assert flag(ratios["periphery_square_0.3-s0"][0], "--masking-ratio") == "0.3" and len(ratios) == 27
    assert paper_accuracy("periphery_square", "blur") is None and paper_accuracy("periphery_square") == 61.5
    assert experiments.paper_accuracy_of("square_0.7") == 61.5


def test_each_grid_takes_its_rates_from_the_table(capsys, tmp_path):
    rates = {c.name: c.learning_rate for c in experiments.CONDITIONS.values()}
    fig4 = dry_run(capsys, "fig4", "--out", str(tmp_path / "fig4"), "--input-path", "d")
    for cell, commands in fig4.items():
        name = cell.rsplit("-s", 1)[0]
        if name != "raw_pixels":
            assert float(flag(commands[0], "--learning-rate")) == rates[name]
    convnext = dry_run(capsys, "convnext", "--out", str(tmp_path / "convnext"), "--input-path", "d")
    assert {float(flag(c[0], "--learning-rate")) for c in convnext.values()} == set(experiments.PAPER_CONVNEXT_RATES)
    argv = ["--out", str(tmp_path / "fg"), "--input-path", "d", "--segment-path", "s"]
    foreground = dry_run(capsys, "foreground", *argv)
    whole, on_object = foreground["periphery_0.8-s0"][0], foreground["periphery_0.8_att_object-s0"][0]
    assert flag(whole, "--foreground-loss") == "False" and flag(on_object, "--foreground-loss") == "True"
    assert flag(whole, "--remove-missing-segments") == "True" and flag(on_object, "--attention") == "foreground"


@pytest.mark.slow
def test_a_tiny_grid_runs_to_a_report_and_is_not_retrained_when_run_again(capsys, tmp_path):
    out = tmp_path / "fig4"
    argv = ["fig4", "--out", str(out), "--only", "random_patches_0.6", "periphery_0.8", "--seeds", "0", "1"]
    assert grids.main([*argv, *TINY, *QUICK_PROBE]) == 0
    results = read_results(out)
    assert set(results) == {f"{c}-s{s}" for c in ("random_patches_0.6", "periphery_0.8") for s in (0, 1)}
    for record in results.values():
        assert 0.0 <= record["accuracy_mean"] <= 1.0 and len(record["accuracies"]) == 2
        assert Path(record["checkpoint"]).is_file() and record["final_loss"] > 0
    logs = {cell: (out / "cells" / cell / "pretrain.log").read_text() for cell in results}
    capsys.readouterr()
    assert grids.main(["report", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "4 of 4 cells finished" in printed
    assert re.search(r"\| Random patches 0\.6 \| 2 \| [\d.]+ ± [\d.]+ \| 70\.3 \|", printed)
    assert re.search(r"\| Masked periphery 0\.8 \| 2 \| [\d.]+ ± [\d.]+ \| 68\.0 \|", printed)
    chart = (out / "report.html").read_text()
    assert "Masked periphery 0.8" in chart and (out / "report.md").read_text().count("\n| ") == 3
    lines = (out / RESULTS_FILE).read_text()
    assert grids.main([*argv, *TINY, *QUICK_PROBE]) == 0  # again: every cell is done
    assert (out / RESULTS_FILE).read_text() == lines
    assert {cell: (out / "cells" / cell / "pretrain.log").read_text() for cell in results} == logs
    assert grids.main([*argv, *TINY[:-4], "--epochs", "3", *QUICK_PROBE]) == 2  # other settings: refused
    assert "holds a grid run with other settings" in capsys.readouterr().err


def grid_process(out: Path, extra: list[str]) -> subprocess.Popen:
    """``python -m train.grid`` of one periphery cell in its own process group."""
    argv = ["fig4", "--out", str(out), "--only", "periphery_0.8", "--seeds", "0", *extra, *QUICK_PROBE]
    return subprocess.Popen(
        [sys.executable, "-m", "train.grid", *argv], cwd=REPO, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip


def wait_for(path: Path, timeout: float = 180) -> None:
    """Wait until ``path`` exists."""
    deadline = time.monotonic() + timeout
    while not path.is_file():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


# Five epochs of two short steps: the first epoch's save is the signal, and four epochs are still to run when it lands.
LONGER = ["--dataset", "synthetic", "--size", "16", "--batch-size", "8", "--epochs", "5", "--device", "cpu"]


@pytest.mark.slow
def test_a_grid_run_killed_mid_cell_resumes_that_cell(tmp_path):
    out = tmp_path / "fig4"
    process = grid_process(out, LONGER)
    cell = out / "cells" / "periphery_0.8-s0"
    wait_for(cell / "last.safetensors")  # the first epoch is done
    os.killpg(process.pid, signal.SIGKILL)  # the grid run and its trainer die without any handler
    process.wait()
    assert not read_results(out)
    done = grid_process(out, LONGER)
    assert done.wait(timeout=600) == 0
    assert "Resuming at epoch" in (cell / "pretrain.log").read_text()
    epochs = [json.loads(line)["epoch"] for line in (cell / "metrics.jsonl").read_text().splitlines()]
    assert epochs == [1, 2, 3, 4, 5]  # no epoch lost twice, none done twice
    assert set(read_results(out)) == {"periphery_0.8-s0"}


@pytest.mark.slow
def test_a_preempted_slurm_cell_saves_its_trainer_and_is_requeued_as_it_was(tmp_path):
    grid_run, _ = grids.parse_grid_run(
        ["fig4", "--out", str(tmp_path), "--only", "periphery_0.8", "--seeds", "0", *LONGER, *QUICK_PROBE]
    )
    grids.prepare(grid_run)
    cell = grid_run.cells()[0]
    failure = []

    def run() -> None:
        try:
            grids.run_cell(grid_run, cell)
        except grids.Interrupted as error:
            failure.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    wait_for(cell.folder / "last.safetensors")
    requeued = grids.CellJob().__submitit_checkpoint__(grid_run, cell)  # what submitit calls on SIGUSR2
    thread.join(timeout=120)
    assert failure and "resumes from" in str(failure[0])  # the trainer stopped early, having saved
    assert isinstance(requeued.function, grids.CellJob) and requeued.args == (grid_run, cell)
    record = requeued.result()  # the requeued job, run here: it resumes and finishes the cell
    assert record["cell"] == "periphery_0.8-s0"
    assert "Resuming at epoch" in (cell.folder / "pretrain.log").read_text()
    epochs = [json.loads(line)["epoch"] for line in (cell.folder / "metrics.jsonl").read_text().splitlines()]
    assert epochs == [1, 2, 3, 4, 5]


@pytest.mark.slow
def test_submitit_runs_a_cell_as_a_real_job(tmp_path, capsys):
    out = tmp_path / "fig4"
    argv = ["fig4", "--out", str(out), "--only", "autoencoder", "--seeds", "3", "--launcher", "submitit-local"]
    assert grids.main([*argv, *TINY, *QUICK_PROBE, "--gpus-per-job", "0"]) == 0
    assert set(read_results(out)) == {"autoencoder-s3"}
    jobs = [json.loads(line) for line in (out / "jobs.jsonl").read_text().splitlines()]
    assert [job["cell"] for job in jobs] == ["autoencoder-s3"]
    logs = list((out / "submitit").rglob("*_log.out"))
    assert logs, "submitit wrote no job log"
    assert "Submitted 1 cell(s)" in capsys.readouterr().out


def fake_slurm(folder: Path) -> Path:
    """``srun`` and an ``sbatch`` that records the script it is given and answers like SLURM."""
    folder.mkdir()
    (folder / "srun").write_text("#!/bin/sh\nexit 0\n")
    (folder / "sbatch").write_text(f'#!/bin/sh\ncp "$1" {folder}/submitted.sh\necho "Submitted batch job 4242"\n')
    for name in ("srun", "sbatch"):
        (folder / name).chmod(0o755)
    return folder / "submitted.sh"


def test_the_slurm_launcher_submits_one_job_array_with_the_asked_resources(tmp_path, monkeypatch, capsys):
    script = fake_slurm(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    argv = ["fig4", "--out", str(tmp_path / "fig4"), "--only", "periphery_0.8", "foveate", "--seeds", "0", "1"]
    argv += ["--launcher", "slurm", "--partition", "gpu", "--gpus-per-job", "2", "--nproc-per-node", "2"]
    argv += ["--time-limit", "90", "--array-parallelism", "3", "--input-path", "data/stl10"]
    assert grids.main(argv) == 0
    text = script.read_text()
    for line in ("--partition=gpu", "--gpus-per-node=2", "--time=90", "--array=0-3%3", "--job-name=focusmim-fig4"):
        assert f"#SBATCH {line}" in text
    assert re.search(r"#SBATCH --signal=USR2@\d+", text)  # submitit's warning before the limit: checkpoint
    assert "srun" in text and "submitit.core._submit" in text
    assert "4242" in capsys.readouterr().out
    jobs = [json.loads(line) for line in (tmp_path / "fig4" / "jobs.jsonl").read_text().splitlines()]
    assert [job["job"] for job in jobs] == ["4242_0", "4242_1", "4242_2", "4242_3"]
    grid_run, _ = grids.parse_grid_run(argv)
    command = grid_run.pretrain_command(grid_run.cells()[0])
    assert "torch.distributed.run" in command and "--nproc-per-node=2" in command


def test_the_slurm_launcher_without_slurm_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # no srun anywhere
    assert grids.main(["fig4", "--out", str(tmp_path / "s"), "--launcher", "slurm", "--input-path", "d"]) == 2
    assert "--launcher slurm cannot submit from here" in capsys.readouterr().err


@pytest.mark.slow
def test_the_torchrun_launcher_trains_a_cell_on_two_processes(tmp_path):
    out = tmp_path / "fig4"
    argv = ["fig4", "--out", str(out), "--only", "periphery_0.8", "--seeds", "0", "--launcher", "torchrun"]
    assert grids.main([*argv, "--nproc-per-node", "2", *TINY, *QUICK_PROBE]) == 0
    log = (out / "cells" / "periphery_0.8-s0" / "pretrain.log").read_text()
    assert "torch.distributed.run --standalone --nproc-per-node=2" in log
    assert set(read_results(out)) == {"periphery_0.8-s0"}


@pytest.mark.parametrize(
    ("option", "value"),
    [("--seeds", "-1"), ("--probe-seeds", "0"), ("--gpus", "0"), ("--nproc-per-node", "two"), ("--probe-limit", "0"),
     ("--gpus-per-job", "-1")],
)
def test_a_negative_seed_or_an_empty_count_is_refused_naming_the_option(capsys, option, value):
    with pytest.raises(SystemExit) as stop:
        grids.build_parser().parse_args(["fig4", option, value, "--dry-run"])
    assert stop.value.code == 2 and f"argument {option}:" in capsys.readouterr().err
