"""Compare modes: one image and fixation under every masking mode, and error against the masking ratio."""

import pandas as pd
import streamlit as st

from focusmim_core import MODES, InputError, ViewState, render_modes
from focusmim_core.explorer.figures import colour_map, pixelated, ratio_sweep_chart
from focusmim_core.explorer.sweeps import SWEEP_RATIOS, mode_table, ratio_curves
from ui import keys, state
from ui.widgets import checkpoint_notice

st.title("Compare masking modes")
item, problems = state.current_item()
state.show_messages(state.link_messages() + problems)
view = state.view()
modes = list(MODES)
models, infos, notes = state.networks_by_mode(modes, view.fill)
labels = {mode: info.name if info else "untrained" for mode, info in infos.items()}
checkpoint_notice(list(infos.values()), notes)
foreground, foreground_note = state.foreground_of(item)
if foreground_note:
    st.info(foreground_note)
base = ViewState(
    mode=view.mode, ratio=view.ratio, fill=view.fill, fixation=view.fixation, attention=None, seed=view.seed
)
ratios = {m: (view.ratio if MODES[m].uses_ratio else MODES[m].default_ratio) for m in modes}
st.caption(
    f"{item.caption}, fixation ({view.fixation[0]}, {view.fixation[1]}), ratio {view.ratio:g} for the modes that "
    f"use one, {view.fill} fill, random patches from seed {view.seed}. Change them on the Explore page. "
    "Each mode runs its own checkpoint (sidebar: auto) in one batched pass per network."
)
try:
    with st.spinner("Rendering every mode…"):
        panels = render_modes(item.image, base, models, modes, foreground, ratios)
except InputError as error:
    st.error(str(error))
    st.stop()

top = max(float(p.error_map.max()) for p in panels)
columns = st.columns(len(modes))
for column, mode, view_panels in zip(columns, modes, panels, strict=True):
    with column:
        st.markdown(f"**{MODES[mode].short_label}**")
        st.image(pixelated(view_panels.masked_input, 2), caption="input", width="stretch")
        st.image(pixelated(view_panels.reconstruction, 2), caption="reconstruction", width="stretch")
        st.image(pixelated(colour_map(view_panels.error_map, top), 2), caption="squared error", width="stretch")
        st.caption(f"checkpoint: {labels[mode].split('/')[-1]}")
st.caption(f"Error colours: Inferno from 0 (black) to {top:.3f} (yellow), the same scale for every mode.")

st.subheader("Metrics")
st.dataframe(pd.DataFrame(mode_table(panels, labels)), hide_index=True, width="stretch")

st.subheader("Error vs masking ratio")
metric = st.radio(
    "Error",
    ["masked_mse", "foreground_mse"],
    horizontal=True,
    key=keys.SWEEP_METRIC,
    format_func={"masked_mse": "masked MSE", "foreground_mse": "foreground-weighted MSE"}.get,
)
try:
    with st.spinner(f"Sweeping {len(SWEEP_RATIOS)} ratios for every mode (batched)…"):
        curves = ratio_curves(item.image, base, models, foreground, metric)
except InputError as error:
    st.error(str(error))
    st.stop()
st.plotly_chart(ratio_sweep_chart(curves, metric), key="ratio_sweep")
st.caption("Autoencoder and foveal filter take no ratio: their error is the same at every ratio (flat lines).")
