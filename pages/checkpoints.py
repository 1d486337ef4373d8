"""Checkpoints and training runs: metadata, training curves, probe accuracies next to the paper's."""

import pandas as pd
import streamlit as st

from focusmim_core.errors import InputError
from focusmim_core.explorer.catalog import TRAIN_HINT, checkpoint_folders, describe
from focusmim_core.explorer.figures import line_chart, probe_chart, sweep_chart
from focusmim_core.explorer.grid import find_sweeps, read_results, read_sweep, summarise
from focusmim_core.explorer.runs import (
    CURVE_KEYS,
    PAPER_ACCURACY,
    find_runs,
    probe_rows,
    quality_curves,
    random_init_probe,
    run_folders,
)
from ui import keys, state

st.title("Checkpoints and training runs")
state.show_messages(state.link_messages())
listed = state.checkpoints()
infos = [info for info in listed if info.error is None]
broken = [info for info in listed if info.error is not None]
folders = ", ".join(f"`{f}`" for f in checkpoint_folders())
if not infos:
    st.warning(f"No checkpoints in {folders}. The other pages use an untrained network. {TRAIN_HINT}")
else:
    if any(info.metadata.demo for info in infos):
        st.info(f"Checkpoints marked **demo** are small CPU-trained demos. {TRAIN_HINT}", icon=":material/info:")
    st.caption(f"Searched: {folders} (add folders with FOCUSMIM_CHECKPOINTS).")
    st.dataframe(pd.DataFrame([describe(info) for info in infos]), hide_index=True, width="stretch")
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

curves = quality_curves(infos)
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
runs = [run for run in find_runs() if run.records]
if not runs:
    st.info(
        "No training runs found in "
        + ", ".join(f"`{f}`" for f in run_folders())
        + " (each run folder has a metrics.jsonl; add folders with FOCUSMIM_RUNS)."
    )
else:
    names = [run.name for run in runs]
    chosen = st.multiselect("Runs", names, default=names[:6], key=keys.RUNS)
    key = st.selectbox("Metric", CURVE_KEYS, key=keys.RUN_METRIC)
    selected = [run for run in runs if run.name in chosen]
    curves = {run.name: run.series(key) for run in selected}
    empty = [name for name, (epochs, _) in curves.items() if not epochs]
    st.plotly_chart(
        line_chart({n: c for n, c in curves.items() if c[0]}, f"{key} per epoch", "epoch", key, log_y=key == "loss"),
        key="run_curves",
    )
    if empty:
        st.caption(f"No {key} logged in: {', '.join(empty)}.")
    skipped = {run.name: run.skipped for run in selected if run.skipped}
    if skipped:
        st.warning(f"Unreadable log lines were skipped: {skipped}.")

sweeps = [folder for root in run_folders() if root.is_dir() for folder in find_sweeps(root)]
if sweeps:
    st.subheader("Experiment grids")
    folder = st.selectbox("Sweep folder", sweeps, format_func=str, key=keys.SWEEP_FOLDER)
    try:
        settings, summaries = read_sweep(folder), summarise(folder)
    except InputError as error:
        settings, summaries = None, []
        st.warning(str(error), icon=":material/warning:")
    if settings is not None:
        total = len(settings.get("conditions", [])) * len(settings.get("seeds", []))
        st.caption(
            f"`python -m train.sweep {settings.get('grid')}`: {len(read_results(folder))} of {total} cells "
            "finished; probe accuracy per condition, mean ± std over pretraining seeds, next to the paper's Fig. 4."
        )
    if summaries:
        st.dataframe(pd.DataFrame([item.row() for item in summaries]), hide_index=True, width="stretch")
        st.plotly_chart(sweep_chart(summaries), key="sweep_chart")
    elif settings is not None:
        st.info(f"No cell of {folder} has finished yet.")

st.subheader("Linear-probe accuracy: ours vs the paper's")
rows = probe_rows(infos)
if rows:
    st.dataframe(pd.DataFrame(rows).drop(columns="setup"), hide_index=True, width="stretch")
    if any(r["ours: accuracy %"] is not None for r in rows):
        st.plotly_chart(probe_chart(rows), key="probe_chart")
    else:
        st.info("No checkpoint has a probe result yet: run `python -m train.probe` to measure one.")
baseline = random_init_probe(checkpoint_folders()[0])  # the shipped folder comes first
if baseline is not None:
    st.caption(
        f"Baseline for the shipped demo checkpoints: a random-init encoder reaches "
        f"{100 * baseline['accuracy_mean']:.1f} % (k-NN {100 * (baseline.get('knn_accuracy') or 0):.1f} %) on the "
        "same procedural probe set. Random features are a strong baseline; a checkpoint helps only above it."
    )
st.markdown("**The paper's numbers** (STL-10 linear probe, %, read off Fig. 4; not measured here):")
st.dataframe(
    pd.DataFrame({"paper's setup": list(PAPER_ACCURACY), "accuracy % (paper)": list(PAPER_ACCURACY.values())}),
    hide_index=True,
)
