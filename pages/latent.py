"""Latent space: the current image's 128 x 12 x 12 code, batch statistics, unit correlations, segmentation."""

import pandas as pd
import streamlit as st

from focusmim_core import InputError, render
from focusmim_core.figures import channel_grid_figure, correlation_heatmap, segmentation_overlay
from focusmim_core.latent import channel_grid, latent_segmentation, strongest_units, unit_correlations
from focusmim_core.latent_batch import BATCH_SOURCES, statistics_row
from ui import state
from ui.widgets import checkpoint_notice

COLUMNS = 16

st.title("Latent space")
item, problems = state.current_item()
state.show_messages(state.link_messages() + problems)
view = state.view()
model, info, notes = state.network(view.mode, view.fill)
checkpoint_notice([info], notes)
try:
    panels = render(item.image, view.fixation, view.mode, view.ratio, model, fill=view.fill, attention=view.attention)
except InputError as error:
    st.error(str(error))
    st.stop()
latent = panels.latent
st.caption(
    f"{item.caption}: latent of the {view.mode} input at fixation {view.fixation} "
    f"(checkpoint: {info.name if info else 'untrained'})."
)

left, right = st.columns([3, 2], gap="large")
with left:
    grid = channel_grid_figure(channel_grid(latent, COLUMNS), COLUMNS, latent.shape[-1])
    st.plotly_chart(grid, key="grid", theme=None)
with right:
    st.markdown("**Unsupervised segmentation**: the 12 x 12 latent vectors clustered (k-means)")
    clusters = st.slider("Clusters", 2, 8, 4, key="w_clusters")
    labels = latent_segmentation(latent, clusters)
    st.image(segmentation_overlay(item.image, labels, scale=3), width="stretch")

st.subheader("Decorrelation and sparsity over a batch")
b1, b2 = st.columns(2)
source = b1.selectbox("Images", BATCH_SOURCES, index=1, key="w_batch_source")
everyone = b2.toggle("Every checkpoint (slower)", key="w_all_checkpoints")
readable = [c for c in state.checkpoints() if c.error is None]  # broken files are listed on Checkpoints
targets = (readable or [info]) if everyone else [info]
rows, latents = [], None
try:
    with st.spinner("Encoding the batch…"):
        for target in targets:
            name = target.name if target else "untrained"
            modified = target.path.stat().st_mtime if target else 0.0
            codes = state.batch_latents(source, view.split, st.session_state.get(state.STL10_DIR), name, modified)
            rows.append(statistics_row(target, codes))
            if target is info or (info is not None and target is not None and target.name == info.name):
                latents = codes
except (InputError, OSError) as error:
    st.error(str(error))
    st.stop()
st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
st.caption(
    f"{rows[0]['images'] if rows else 0} whole images (no mask). Decorrelation: sum of squared off-diagonal unit "
    "correlations / 18,432 (paper 3.6); sparsity as in the reference code."
)
if latents is not None and latents.shape[0] > 2:
    units = strongest_units(latents, 48)
    figure = correlation_heatmap(unit_correlations(latents, units), units.tolist())
    st.plotly_chart(figure, key="correlations", theme=None)
