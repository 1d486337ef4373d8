"""Compare modes: one image and fixation under every masking mode, and error against the masking ratio."""

import pandas as pd
import streamlit as st

from focusmim_core import MODES, InputError
from focusmim_core.explorer import service
from focusmim_core.explorer.figures import METRIC_LABELS, colour_map, pixelated, ratio_sweep_chart
from ui import keys, state
from ui.widgets import checkpoint_notice

st.title("Compare masking modes")
item, problems = state.current_item()
state.show_messages(state.link_messages() + problems)
view = state.view()
st.caption(
    f"{item.caption}, fixation ({view.fixation[0]}, {view.fixation[1]}), ratio {view.ratio:g} for the modes that "
    f"use one, {view.fill} fill, random patches from seed {view.seed}. Change them on the Explore page. "
    "Each mode runs its own checkpoint (sidebar: auto) in one batched pass per network."
)
try:
    with st.spinner("Rendering every mode…"):
        compared = service.compare_item(item, view, state.checkpoints(), state.find_foreground)
except InputError as error:
    st.error(str(error))
    st.stop()
checkpoint_notice(list(compared.checkpoints.values()), compared.notes, compared.caveats)
if compared.foreground_note:
    st.info(compared.foreground_note)

top = max(float(p.error_map.max()) for p in compared.panels)
columns = st.columns(len(compared.modes))
for column, mode, view_panels in zip(columns, compared.modes, compared.panels, strict=True):
    with column:
        st.markdown(f"**{MODES[mode].short_label}**")
        st.image(pixelated(view_panels.masked_input, 2), caption="input", width="stretch")
        st.image(pixelated(view_panels.reconstruction, 2), caption="reconstruction", width="stretch")
        st.image(pixelated(colour_map(view_panels.error_map, top), 2), caption="squared error", width="stretch")
        st.caption(f"checkpoint: {compared.names[mode].split('/')[-1]}")
st.caption(f"Error colours: Inferno from 0 (black) to {top:.3f} (yellow), the same scale for every mode.")

st.subheader("Metrics")
st.dataframe(pd.DataFrame(compared.table()), hide_index=True, width="stretch")

st.subheader("Error vs masking ratio")
metric = st.radio(
    "Error",
    list(METRIC_LABELS),
    horizontal=True,
    key=keys.SWEEP_METRIC,
    format_func=METRIC_LABELS.get,
)
try:
    with st.spinner(f"Sweeping {len(service.SWEEP_RATIOS)} ratios for every mode (batched)…"):
        curves = service.sweep_item(item, view, metric, state.checkpoints(), state.find_foreground)
except InputError as error:
    st.error(str(error))
    st.stop()
st.plotly_chart(ratio_sweep_chart(curves, metric), key="ratio_sweep")
st.caption("Autoencoder and foveal filter take no ratio: their error is the same at every ratio (flat lines).")
