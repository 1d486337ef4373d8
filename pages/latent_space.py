"""Latent space: the current image's 128 x 12 x 12 code, its hierarchical segmentation and t-SNE, batch statistics."""

import numpy as np
import pandas as pd
import streamlit as st
import torch

from focusmim_core import InputError
from focusmim_core.explorer import research, service
from focusmim_core.explorer.figures import channel_grid_figure, correlation_heatmap
from focusmim_core.explorer.research import CHANNEL_COLUMNS, CUT_LABEL, DEFAULT_CUT, NO_OTHER_LABEL, OTHER_LABEL
from focusmim_core.explorer.service import BATCH_SOURCES, SEGMENTATION_CUTS
from ui import keys, state
from ui.widgets import checkpoint_notice

NONE = ""  # the id of "no second checkpoint" (checkpoint names are the other ids)


@st.cache_data(max_entries=32, show_spinner="t-SNE of the latent cells…")
def cached_tsne(vectors: np.ndarray) -> np.ndarray:
    """The t-SNE of a latent ``(C, 12, 12)`` given as an array (cached per latent)."""
    return service.latent_tsne(torch.from_numpy(vectors))


def selected_cell(key: str) -> int | None:
    """The cell of the point last clicked in the t-SNE chart ``key`` (None: nothing selected)."""
    event = st.session_state.get(key)
    points = ((event or {}).get("selection") or {}).get("points") or []
    first = next((p for p in points if p.get("curve_number", 0) == 0), None)
    return None if first is None else int(first["point_index"])


def segmentation_panel(image: torch.Tensor, code: torch.Tensor, name: str, cut: int, key: str) -> None:
    """The three nested cuts overlaid on the image and the t-SNE of the cells, for one checkpoint's latent."""
    labels = service.latent_segmentation(code)
    cell = selected_cell(key)
    st.markdown(f"**{name}**")
    overlays = research.cut_overlays(image, labels, cell)
    for column, (overlay, caption) in zip(st.columns(len(overlays)), overlays, strict=True):
        column.image(overlay, caption=caption)
    figure = research.tsne_figure(cached_tsne(code.float().numpy()), labels, cut, cell)
    st.plotly_chart(figure, key=key, on_select="rerun", selection_mode=("points", "box"), theme=None)

st.title("Latent space")
item, problems = state.current_item()
state.show_messages(state.link_messages() + problems)
view = state.view()
network = state.network(view.mode, view.fill)
info = network.info
checkpoint_notice([info], network.notes, network.substitutions)
try:
    latent = service.latent_of(item, view, network)
except InputError as error:
    st.error(str(error))
    st.stop()
st.caption(
    f"{item.caption}: latent of the {view.mode} input at fixation {view.fixation} "
    f"(checkpoint: {info.name if info else 'untrained'})."
)

grid = channel_grid_figure(service.channel_grid(latent, CHANNEL_COLUMNS), CHANNEL_COLUMNS, latent.shape[-1])
st.plotly_chart(grid, key="grid", theme=None)

rows, columns = latent.shape[-2:]
st.subheader(research.segmentation_heading(rows, columns))
st.caption(research.segmentation_caption(rows, columns))
readable = [c for c in state.checkpoints() if c.error is None]  # broken files are listed on Checkpoints
others = [c.name for c in readable if info is None or c.name != info.name]
c1, c2 = st.columns(2)
other_name = c1.selectbox(OTHER_LABEL, [NONE, *others], format_func=lambda n: n or NO_OTHER_LABEL,
                          key=keys.LATENT_OTHER)  # fmt: skip
cut = c2.radio(CUT_LABEL, SEGMENTATION_CUTS, index=SEGMENTATION_CUTS.index(DEFAULT_CUT), horizontal=True,
               key=keys.TSNE_CUT, format_func=research.cut_label)  # fmt: skip
shown = [(info.name if info else "untrained", latent)]
if other_name != NONE:
    other_network = state.network(view.mode, view.fill, selection=other_name)
    state.show_messages(other_network.notes)
    other = service.latent_of(item, view, other_network)
    shown.append((other_network.info.name if other_network.info else "untrained", other))
for column, (name, code) in zip(st.columns(len(shown), gap="large"), shown, strict=True):
    with column:
        segmentation_panel(item.image, code, name, cut, f"tsne_{len(shown)}_{name}")

st.subheader("Decorrelation and sparsity over a batch")
b1, b2 = st.columns(2)
source = b1.selectbox("Images", list(BATCH_SOURCES), index=list(BATCH_SOURCES).index(research.DEFAULT_BATCH),
                      key=keys.BATCH_SOURCE, format_func=BATCH_SOURCES.get)  # fmt: skip
everyone = b2.toggle(research.EVERY_CHECKPOINT_LABEL, key=keys.ALL_CHECKPOINTS)
targets = (readable or [info]) if everyone else [info]
rows, latents = [], None
try:
    with st.spinner("Encoding the batch…"):
        for target in targets:
            name = target.name if target else "untrained"
            modified = target.path.stat().st_mtime if target else 0.0
            codes = state.batch_latents(source, view.split, st.session_state.get(state.STL10_DIR), name, modified)
            rows.append(service.statistics_row(target, codes))
            if target is info or (info is not None and target is not None and target.name == info.name):
                latents = codes
except (InputError, OSError) as error:
    st.error(str(error))
    st.stop()
st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
st.caption(research.statistics_caption(rows[0]["images"] if rows else 0))
if latents is not None and latents.shape[0] > 2:
    figure = correlation_heatmap(*service.correlations(latents, research.CORRELATED_UNITS))
    st.plotly_chart(figure, key="correlations", theme=None)
