"""The shipped demo checkpoints: one per mode the app offers, small, labelled, and as good as they claim.

Quality is measured here on the shipped files themselves (the held-out gallery evaluation,
8 photos x 5 fixations, about a second per checkpoint), against the ratchet floors in
``train.demos.GOALS``: a retrained checkpoint cannot silently regress. The goals themselves
are research targets: ``checkpoints/README.md`` shows each one met or missed.
"""

from __future__ import annotations

from functools import cache

import pytest

from focusmim_core import default_checkpoint, list_checkpoints, load_checkpoint
from focusmim_core.checkpoints import SHIPPED_DIR
from focusmim_core.evaluation import (
    REMEASURED_COSINE,
    REMEASURED_DB,
    ReconstructionReport,
    evaluate_latent,
    evaluate_reconstruction,
    stored_latent,
    stored_report,
)
from focusmim_core.results import RANDOM_INIT_PROBE
from train.demos import DEMOS, GOALS, DemoSpec, Goal
from train.ship_demo import write_table

SPECS = {spec.name: spec for spec in DEMOS}


@cache
def measured(name: str) -> ReconstructionReport:
    """The held-out report of a shipped checkpoint, measured now."""
    spec = SPECS[name]
    model, _ = load_checkpoint(SHIPPED_DIR / f"{name}.safetensors")
    return evaluate_reconstruction(model, spec.mode, spec.ratio, spec.fill)


PIXEL_DEMOS = [spec for spec in DEMOS if spec.objective == "pixel"]
LATENT_DEMOS = [spec for spec in DEMOS if spec.objective == "latent"]


def check_shipped(spec: DemoSpec):
    """A shipped file exists, is small, labelled as the demo it is, and has a history adding up: its metadata."""
    path = SHIPPED_DIR / f"{spec.name}.safetensors"
    assert path.is_file(), f"missing shipped checkpoint {path.name}: run python -m train.ship_demo"
    assert path.stat().st_size <= spec.max_megabytes * 1e6
    _, meta = load_checkpoint(path)
    assert meta.demo and meta.mode == spec.mode and meta.fill == spec.fill and meta.objective == spec.objective
    assert meta.extra.get("command", "").startswith("python -m train.pretrain")
    history = meta.extra.get("history") or []
    assert history and sum(entry["images"] for entry in history) == meta.extra["images_seen"]
    return meta


@pytest.mark.parametrize("spec", LATENT_DEMOS, ids=[spec.name for spec in LATENT_DEMOS])
def test_each_latent_demo_is_labelled_and_its_stored_cosine_is_true(spec):
    meta = check_shipped(spec)
    stored = stored_latent(meta.metrics)
    assert stored is not None, "no held-out latent cosine in the metadata: run python -m train.ship_demo"
    model, _ = load_checkpoint(SHIPPED_DIR / f"{spec.name}.safetensors")
    assert evaluate_latent(model, spec.mode, spec.ratio, spec.fill) == pytest.approx(stored, abs=REMEASURED_COSINE)


@pytest.mark.parametrize("spec", PIXEL_DEMOS, ids=[spec.name for spec in PIXEL_DEMOS])
def test_each_shipped_checkpoint_is_a_small_labelled_demo_whose_stored_quality_is_true(spec):
    meta = check_shipped(spec)
    stored = stored_report(meta.metrics)
    assert stored is not None, "no held-out report in the metadata: run python -m train.evaluate --write"
    now = measured(spec.name)
    for field in ("psnr_hidden", "psnr_input_hidden", "gain", "psnr_inpainted_hidden", "psnr_visible", "psnr_whole"):
        recorded, value = getattr(stored, field), getattr(now, field)
        assert (recorded is None) == (value is None), field
        if value is not None:
            assert value == pytest.approx(recorded, abs=REMEASURED_DB), field


def goal_id(goal: Goal) -> str:
    return f"{goal.checkpoint}-{goal.metric}"


@pytest.mark.parametrize("goal", GOALS, ids=[goal_id(goal) for goal in GOALS])
def test_no_shipped_checkpoint_falls_below_its_last_shipped_quality(goal):
    value = getattr(measured(goal.checkpoint), goal.metric)
    assert value is not None and value >= goal.floor, f"{goal.checkpoint} {goal.metric} {value} < {goal.floor}"


@pytest.mark.parametrize("goal", GOALS, ids=[goal_id(goal) for goal in GOALS])
def test_the_checkpoint_table_shows_each_goal_met_or_missed_by_the_stored_value(goal):
    """Unmet goals stay visible in the table, whatever they are; none turns a test red by being met."""
    _, meta = load_checkpoint(SHIPPED_DIR / f"{goal.checkpoint}.safetensors")
    value = getattr(stored_report(meta.metrics), goal.metric)
    prefix = f"- `{goal.checkpoint}`: {goal.text}: "
    (line,) = [line for line in (SHIPPED_DIR / "README.md").read_text().splitlines() if line.startswith(prefix)]
    status = line.removeprefix(prefix)
    if value >= goal.target:
        assert status.startswith("**met**"), line
    else:
        assert status.startswith(f"missed by {goal.target - value:.1f} dB"), line


def test_the_app_finds_a_default_checkpoint_for_every_mode_and_fill():
    shipped = list_checkpoints()
    for spec in PIXEL_DEMOS:  # a latent-objective demo is never the default: it shows no reconstruction
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


@pytest.mark.parametrize("spec", LATENT_DEMOS, ids=[spec.name for spec in LATENT_DEMOS])
def test_a_shipped_latent_demo_opens_in_the_app_with_its_cosine_map(spec, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.delenv("FOCUSMIM_CHECKPOINTS", raising=False)
    at = AppTest.from_file(str(SHIPPED_DIR.parent / "app.py"), default_timeout=120)
    at.query_params.update({"mode": spec.mode, "ratio": f"{spec.ratio:g}", "ckpt": spec.name})
    at.run()
    assert not at.exception, at.exception
    assert "Latent cosine (hidden cells)" in [m.label for m in at.metric]
    at.switch_page("pages/latent_space.py").run()
    assert not at.exception, at.exception
