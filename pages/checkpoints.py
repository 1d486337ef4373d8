"""Checkpoints and training runs: metadata, training curves, probe accuracies next to the paper's."""

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import pandas as pd
import streamlit as st

from focusmim_core import paper_conditions
from focusmim_core.explorer import service
from focusmim_core.explorer.figures import grid_chart, line_chart, probe_chart
from ui import keys, state

# display labels of the records' fields (results.ConditionSummary, runs.ProbeRow), applied only when drawn
GRID_COLUMNS = {"label": "condition", "seeds": "seeds", "mean": "probe % (mean)", "std": "± std", "paper": "paper %"}
PROBE_COLUMNS = {
    "checkpoint": "checkpoint",
    "accuracy": "ours: accuracy %",
    "spread": "ours: ± std",
    "knn": "ours: kNN %",
    "probe_data": "ours: probe data",
    "paper_setup": "paper: setup",
    "paper_accuracy": "paper: accuracy % (STL-10)",
}


def table(records: Sequence[Any], columns: dict[str, str]) -> pd.DataFrame:
    """Dataclass records as a table: the fields in ``columns``, under their display labels."""
    return pd.DataFrame([asdict(record) for record in records], columns=list(columns)).rename(columns=columns)


st.title("Checkpoints and training runs")
state.show_messages(state.link_messages())
listed = state.checkpoints()
infos = [info for info in listed if info.error is None]
broken = [info for info in listed if info.error is not None]
folders = ", ".join(f"`{f}`" for f in service.checkpoint_folders())
if not infos:
    st.warning(f"No checkpoints in {folders}. The other pages use an untrained network. {service.TRAIN_HINT}")
else:
    if any(info.metadata.demo for info in infos):
        st.info(
            f"Checkpoints marked **demo** are small CPU-trained demos. {service.TRAIN_HINT}", icon=":material/info:"
        )
    st.caption(f"Searched: {folders} (add folders with FOCUSMIM_CHECKPOINTS).")
    st.dataframe(pd.DataFrame(service.checkpoint_rows(infos)), hide_index=True, width="stretch")
if broken:
    st.warning(
        f"{len(broken)} file(s) in the checkpoint folders could not be read; they are never chosen or compared:",
        icon=":material/warning:",
    )
    st.dataframe(
        pd.DataFrame([{"file": info.path.name, "problem": info.error} for info in broken]),
        hide_index=True,
        width="stretch",
    )

curves = service.quality_curves(infos)
if curves:
    st.subheader("Held-out quality over training")
    st.plotly_chart(
        line_chart(curves, "hidden-region PSNR on the gallery after each session", "images seen", "PSNR (dB)"),
        key="quality_curves",
    )
    st.caption(
        "python -m train.evaluate: 8 gallery photos (never trained on) x 5 fixations, each checkpoint under its "
        "own masking; one point per training session (train.ship_demo --continue)."
    )

st.subheader("Training curves")
runs = service.training_runs()
if not runs:
    st.info(
        "No training runs found in "
        + ", ".join(f"`{f}`" for f in service.run_folders())
        + " (each run folder has a metrics.jsonl; add folders with FOCUSMIM_RUNS)."
    )
else:
    names = [run.name for run in runs]
    chosen = st.multiselect("Runs", names, default=names[:6], key=keys.RUNS)
    key = st.selectbox("Metric", service.CURVE_KEYS, key=keys.RUN_METRIC)
    selected = [run for run in runs if run.name in chosen]
    curves = {run.name: run.series(key) for run in selected}
    empty = [name for name, (epochs, _) in curves.items() if not epochs]
    st.plotly_chart(
        line_chart({n: c for n, c in curves.items() if c[0]}, f"{key} per epoch", "epoch", key, log_y=key == "loss"),
        key="run_curves",
    )
    if empty:
        st.caption(f"No {key} logged in: {', '.join(empty)}.")
    skipped = [f"{run.name}: {run.skipped}, the first at {run.problems[0]}" for run in selected if run.problems]
    if skipped:
        st.warning(f"Unreadable log lines were skipped: {'; '.join(skipped)}.")

grid_folders = service.grid_folders()
if grid_folders:
    st.subheader("Experiment grids")
    folder = st.selectbox("Grid folder", grid_folders, format_func=str, key=keys.GRID_FOLDER)
    grid = service.grid_view(folder)
    if grid.error:
        st.warning(grid.error, icon=":material/warning:")
    if problems := grid.problems:
        st.warning(
            f"Unreadable lines of {service.RESULTS_FILE} were skipped: {len(problems)}, the first at {problems[0]}."
        )
    if grid.settings is not None:
        st.caption(
            f"`python -m train.grid {grid.settings.get('grid')}`: {grid.finished} of {grid.total} cells "
            "finished; probe accuracy per condition, mean ± std over pretraining seeds, next to the paper's Fig. 4."
        )
    if grid.summaries:
        st.dataframe(table(grid.summaries, GRID_COLUMNS).round(1), hide_index=True, width="stretch")
        st.plotly_chart(grid_chart(grid.summaries), key="grid_chart")
    elif grid.settings is not None:
        st.info(f"No cell of {folder} has finished yet.")

st.subheader("Linear-probe accuracy: ours vs the paper's")
rows = service.probe_rows(infos)
if rows:
    st.dataframe(table(rows, PROBE_COLUMNS), hide_index=True, width="stretch")
    if any(row.accuracy is not None for row in rows):
        st.plotly_chart(probe_chart(rows), key="probe_chart")
    else:
        st.info("No checkpoint has a probe result yet: run `python -m train.probe` to measure one.")
baseline, baseline_error = service.random_init_baseline()
if baseline_error:
    st.warning(baseline_error, icon=":material/warning:")
if baseline is not None:
    st.caption(
        f"Baseline for the shipped demo checkpoints: a random-init encoder reaches "
        f"{100 * baseline['accuracy_mean']:.1f} % (k-NN {100 * (baseline.get('knn_accuracy') or 0):.1f} %) on the "
        "same procedural probe set. Random features are a strong baseline; a checkpoint helps only above it."
    )
st.markdown("**The paper's numbers** (STL-10 linear probe, %, read off Fig. 4; not measured here):")
st.dataframe(
    pd.DataFrame(
        [{"paper's setup": c.paper.label, "accuracy % (paper)": c.paper.accuracy} for c in paper_conditions()]
    ),
    hide_index=True,
)
