"""The shipped demo checkpoints: one per mode the app offers, small, labelled, and as good as they claim.

Quality is measured here on the shipped files themselves (the held-out gallery evaluation,
8 photos x 5 fixations, about a second per checkpoint), against the goals and the ratchet
floors in ``train.demos.GOALS``: a retrained checkpoint cannot silently regress.
"""

from __future__ import annotations

from functools import cache

import pytest

from focusmim_core import default_checkpoint, list_checkpoints, load_checkpoint
from focusmim_core.checkpoints import SHIPPED_DIR
from focusmim_core.evaluation import ReconstructionReport, evaluate_reconstruction, stored_report
from focusmim_core.runs import RANDOM_INIT_PROBE
from train.demos import DEMOS, GOALS, Goal
from train.ship_demo import write_table

SPECS = {spec.name: spec for spec in DEMOS}
DB_TOLERANCE = 0.05  # float16 weights and another CPU's kernels move a PSNR by far less than this


@cache
def measured(name: str) -> ReconstructionReport:
    """The held-out report of a shipped checkpoint, measured now."""
    spec = SPECS[name]
    model, _ = load_checkpoint(SHIPPED_DIR / f"{name}.safetensors")
    return evaluate_reconstruction(model, spec.mode, spec.ratio, spec.fill)


@pytest.mark.parametrize("spec", DEMOS, ids=[spec.name for spec in DEMOS])
def test_each_shipped_checkpoint_is_a_small_labelled_demo_whose_stored_quality_is_true(spec):
    path = SHIPPED_DIR / f"{spec.name}.safetensors"
    assert path.is_file(), f"missing shipped checkpoint {path.name}: run python -m train.ship_demo"
    assert path.stat().st_size <= 6_000_000
    _, meta = load_checkpoint(path)
    assert meta.demo and meta.mode == spec.mode and meta.fill == spec.fill
    assert meta.extra.get("command", "").startswith("python -m train.pretrain")
    history = meta.extra.get("history") or []
    assert history and sum(entry["images"] for entry in history) == meta.extra["images_seen"]
    stored = stored_report(meta.metrics)
    assert stored is not None, "no held-out report in the metadata: run python -m train.evaluate --write"
    now = measured(spec.name)
    for field in ("psnr_hidden", "psnr_input_hidden", "gain", "psnr_visible", "psnr_whole"):
        recorded, value = getattr(stored, field), getattr(now, field)
        assert (recorded is None) == (value is None), field
        if value is not None:
            assert value == pytest.approx(recorded, abs=DB_TOLERANCE), field


def goal_id(goal: Goal) -> str:
    return f"{goal.checkpoint}-{goal.metric}"


@pytest.mark.parametrize("goal", GOALS, ids=[goal_id(goal) for goal in GOALS])
def test_no_shipped_checkpoint_falls_below_its_last_shipped_quality(goal):
    value = getattr(measured(goal.checkpoint), goal.metric)
    assert value is not None and value >= goal.floor, f"{goal.checkpoint} {goal.metric} {value} < {goal.floor}"


@pytest.mark.parametrize(
    "goal",
    [
        pytest.param(
            goal,
            marks=[] if goal.met else pytest.mark.xfail(strict=True, reason=f"goal not yet met: {goal.text}"),
        )
        for goal in GOALS
    ],
    ids=[goal_id(goal) for goal in GOALS],
)
def test_shipped_checkpoints_meet_their_goals(goal):
    """Strict: a goal marked unmet that is met fails too, so its floor gets raised to the target."""
    value = getattr(measured(goal.checkpoint), goal.metric)
    assert value is not None and value >= goal.target, f"{goal.checkpoint}: {goal.text}, measured {value}"


def test_the_app_finds_a_default_checkpoint_for_every_mode_and_fill():
    shipped = list_checkpoints()
    for spec in DEMOS:
        chosen = default_checkpoint(spec.mode, spec.fill, shipped)
        assert chosen is not None and chosen.path.stem == spec.name


def test_the_checkpoint_table_lists_every_shipped_checkpoint(tmp_path):
    for spec in DEMOS:
        target = tmp_path / f"{spec.name}.safetensors"
        target.write_bytes((SHIPPED_DIR / f"{spec.name}.safetensors").read_bytes())
        target.with_suffix(".json").write_text((SHIPPED_DIR / f"{spec.name}.json").read_text())
    (tmp_path / RANDOM_INIT_PROBE).write_text((SHIPPED_DIR / RANDOM_INIT_PROBE).read_text())
    text = write_table(tmp_path).read_text()
    assert text == (SHIPPED_DIR / "README.md").read_text()  # the committed table is up to date
    for spec in DEMOS:
        assert f"| `{spec.name}` |" in text


def test_square_periphery_borrows_the_periphery_checkpoint():
    chosen = default_checkpoint("periphery_square", "mean")
    assert chosen is not None and chosen.metadata.mode == "periphery" and chosen.metadata.fill == "mean"
