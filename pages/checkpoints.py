"""Checkpoints and training runs: metadata, training curves, probe accuracies next to the paper's."""

import pandas as pd
import streamlit as st

from focusmim_core.explorer import research, service
from focusmim_core.explorer.figures import grid_chart, probe_chart
from focusmim_core.explorer.research import GRID_COLUMNS, PROBE_COLUMNS, table
from ui import keys, state

st.title("Checkpoints and training runs")
state.show_messages(state.link_messages())
listed = state.checkpoints()
infos = [info for info in listed if info.error is None]
broken = [info for info in listed if info.error is not None]
folders = service.checkpoint_folders()
missing, demos = research.catalog_notes(infos, folders)
if missing:
    st.warning(missing)
else:
    if demos:
        st.info(demos, icon=":material/info:")
    st.caption(research.searched_caption(folders))
    st.dataframe(pd.DataFrame(service.checkpoint_rows(infos)), hide_index=True, width="stretch")
if broken:
    st.warning(research.broken_note(broken), icon=":material/warning:")
    st.dataframe(research.broken_table(broken), hide_index=True, width="stretch")

curves = service.quality_curves(infos)
if curves:
    st.subheader("Held-out quality over training")
    st.plotly_chart(research.quality_chart(curves), key="quality_curves")
    st.caption(research.QUALITY_CAPTION)

st.subheader("Training curves")
runs = service.training_runs()
if not runs:
    st.info(research.no_runs_note(service.run_folders()))
else:
    names = [run.name for run in runs]
    chosen = st.multiselect("Runs", names, default=names[: research.RUNS_SHOWN], key=keys.RUNS)
    key = st.selectbox("Metric", service.CURVE_KEYS, key=keys.RUN_METRIC)
    figure, empty, skipped = research.run_chart([run for run in runs if run.name in chosen], key)
    st.plotly_chart(figure, key="run_curves")
    if empty:
        st.caption(empty)
    if skipped:
        st.warning(skipped)

grid_folders = service.grid_folders()
if grid_folders:
    st.subheader("Experiment grids")
    folder = st.selectbox("Grid folder", grid_folders, format_func=str, key=keys.GRID_FOLDER)
    grid = service.grid_view(folder)
    if grid.error:
        st.warning(grid.error, icon=":material/warning:")
    if problems := grid.problems:
        st.warning(research.skipped_lines_note(problems, service.RESULTS_FILE))
    if grid.settings is not None:
        st.caption(research.grid_caption(grid.settings, grid.finished, grid.total))
    if grid.summaries:
        st.dataframe(table(grid.summaries, GRID_COLUMNS).round(1), hide_index=True, width="stretch")
        st.plotly_chart(grid_chart(grid.summaries), key="grid_chart")
    elif grid.settings is not None:
        st.info(research.no_cells_note(folder))

st.subheader("Linear-probe accuracy: ours vs the paper's")
rows = service.probe_rows(infos)
if rows:
    st.dataframe(table(rows, PROBE_COLUMNS), hide_index=True, width="stretch")
    if any(row.accuracy is not None for row in rows):
        st.plotly_chart(probe_chart(rows), key="probe_chart")
    else:
        st.info(research.NO_PROBE_NOTE)
baseline, baseline_error = service.random_init_baseline()
if baseline_error:
    st.warning(baseline_error, icon=":material/warning:")
if baseline is not None:
    st.caption(research.baseline_caption(baseline))
st.markdown(research.PAPER_HEADING)
st.dataframe(research.paper_table(), hide_index=True)
