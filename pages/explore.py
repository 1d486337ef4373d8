"""Explore: click where the eye fixates; see what the network gets, what it makes of it, and its error."""

import streamlit as st

from focusmim_core import FILLS, MODES, InputError
from focusmim_core.explorer import service
from focusmim_core.explorer.figures import framed, heatmap_row, pixelated
from focusmim_core.explorer.service import CONTROLS as C
from ui import keys, state
from ui.widgets import checkpoint_notice, clickable_image, explore_controls

PANEL_SCALE = 3
CLICK_TARGETS = {"fixation": "fixation", "attention": "attention point"}  # id -> label

item, problems = state.current_item()


def _set_point(x: int, y: int) -> None:
    if st.session_state.get(keys.CLICK_TARGET) == "attention" and st.session_state.get(keys.ATTENTION):
        state.set_view(attention=(x, y))
        st.session_state[keys.ATTENTION_X], st.session_state[keys.ATTENTION_Y] = x, y
    else:
        state.set_view(fixation=(x, y))
        st.session_state[keys.FIXATION_X], st.session_state[keys.FIXATION_Y] = x, y


# Compute first, draw after: the forward pass then runs before the browser has deltas to render
# (on two cores the two would otherwise compete). The widgets below take these values from their keys.
mode, ratio, fill, fixation, attention, seed = explore_controls()
spec = MODES[mode]
view = state.set_view(mode=mode, ratio=ratio, fill=fill, fixation=fixation, attention=attention, seed=seed)
try:
    rendered, render_error = service.render_item(item, view, state.checkpoints(), state.find_foreground), ""
except InputError as error:
    rendered, render_error = None, str(error)

st.title("Where the eye looks, what the network sees")
state.show_messages(state.link_messages() + problems)
left, right = st.columns([5, 6], gap="large")
with right:
    st.selectbox(C["mode"].label, list(MODES), key=keys.MODE, format_func=lambda m: MODES[m].label)
    st.caption(spec.description)
    st.slider(C["ratio"].label, C["ratio"].minimum, C["ratio"].maximum, key=keys.RATIO, step=C["ratio"].step,
              disabled=not spec.uses_ratio)  # fmt: skip
    st.radio(C["fill"].label, FILLS, key=keys.FILL, horizontal=True, disabled=not spec.uses_fill)
    st.number_input(C["seed"].label, C["seed"].minimum, C["seed"].maximum, key=keys.SEED, step=C["seed"].step,
                    disabled=not spec.uses_seed, help=C["seed"].help)  # fmt: skip
    fx_col, fy_col = st.columns(2)
    for column, name, key in ((fx_col, "x", keys.FIXATION_X), (fy_col, "y", keys.FIXATION_Y)):
        column.number_input(C[name].label, C[name].minimum, C[name].maximum, key=key, step=C[name].step)
    st.toggle(C["attention"].label, key=keys.ATTENTION, disabled=not spec.supports_attention, help=C["attention"].help)
    if attention is not None:
        ax_col, ay_col = st.columns(2)
        for column, name, key in ((ax_col, "attention_x", keys.ATTENTION_X), (ay_col, "attention_y", keys.ATTENTION_Y)):
            column.number_input(C[name].label, C[name].minimum, C[name].maximum, key=key, step=C[name].step)
        st.radio("A click sets the", list(CLICK_TARGETS), format_func=CLICK_TARGETS.get, key=keys.CLICK_TARGET,
                 horizontal=True)  # fmt: skip
    st.toggle(C["harmonic"].label, key=keys.HARMONIC, disabled=not spec.uses_fill, help=C["harmonic"].help)

with left:
    clickable_image(item.image, [p for p in (view.fixation, view.attention) if p], keys.EXPLORE_CLICK, _set_point)
    st.caption(f"{item.caption}. **Click to move the fixation** (red); cyan: covert-attention point.")

if rendered is None:
    network = state.network(mode, fill)
    checkpoint_notice([network.info], network.notes, network.substitutions)
    st.error(render_error)
    st.stop()
checkpoint_notice([rendered.checkpoint], rendered.notes, rendered.caveats)
if rendered.foreground_note:
    st.info(rendered.foreground_note)
panels = rendered.panels

latent_objective = panels.latent_similarity is not None
with right:
    metrics = panels.metrics
    m1, m2, m3 = st.columns(3)
    m1.metric("Masked MSE", f"{metrics['masked_mse']:.4f}" if metrics["masked_mse"] is not None else "n/a")
    fg = metrics["foreground_mse"]
    m2.metric(
        "FG-weighted MSE",
        f"{fg:.4f}" if fg is not None else "n/a",
        help="Squared error weighted by the foreground confidence, over the loss mask (n/a: no foreground there).",
    )
    peak = metrics["psnr_hidden"]
    if latent_objective:
        similarity = metrics.get("latent_similarity")
        m3.metric(
            "Latent cosine (hidden cells)",
            f"{similarity:.3f}" if similarity is not None else "n/a",
            help="Mean cosine similarity of the predicted and the target latents over the hidden cells.",
        )
    else:
        m3.metric("PSNR of hidden region", f"{peak:.1f} dB" if peak is not None else "n/a")
    st.caption(f"{metrics['hidden_fraction']:.0%} of the pixels are hidden or degraded (loss mask).")

images = [
    ("Masked input: what the network sees", pixelated(panels.masked_input, PANEL_SCALE)),
    ("Reconstruction", pixelated(panels.reconstruction, PANEL_SCALE)),
    ("Reconstruction with the visible pixels pasted back", pixelated(panels.pasted, PANEL_SCALE)),
    ("Loss mask: white where the input is incomplete", framed(pixelated(panels.loss_mask, PANEL_SCALE))),
]
if latent_objective:  # it predicts latents, not pixels: no reconstruction panels
    images = [images[0], images[3]]
elif st.session_state.get(keys.HARMONIC) and (harmonic := rendered.harmonic()) is not None:
    images.insert(3, ("Harmonic inpainting (no learning)", pixelated(harmonic.image, PANEL_SCALE)))
    if harmonic.caption is not None:
        with right:
            st.caption(harmonic.caption)
if panels.foreground is not None:
    images.append(("Foreground confidence (white: object)", framed(pixelated(panels.foreground, PANEL_SCALE))))
for column, (title, image) in zip(st.columns(len(images)), images, strict=True):
    with column:
        st.image(image, caption=title, width="stretch")

if latent_objective:
    st.caption(
        "This checkpoint was trained on the latent objective (Latent MIM): it predicts the hidden cells' latents, "
        "not their pixels. The map shows, per hidden cell, the cosine similarity between its predicted latent and "
        "the target encoder's latent of the true image (1: a perfect prediction)."
    )
    similarity = panels.latent_similarity.clamp(0, 1)
    st.plotly_chart(heatmap_row([("Predicted vs target latent (cosine)", similarity)], colorbar_title="cosine",
                                zmax=1.0), key="error_maps", theme=None)  # fmt: skip
else:
    maps = [("Squared error (mean over RGB)", panels.error_map)]
    if panels.weighted_error_map is not None:
        maps.append(("Foreground-weighted error", panels.weighted_error_map))
    else:
        st.caption("Foreground-weighted error: no foreground map for this image.")
    st.plotly_chart(heatmap_row(maps, colorbar_title="error"), key="error_maps", theme=None)

d1, d2, _ = st.columns([1, 1, 3])
d1.download_button("Panels (PNG)", rendered.png, "focusmim_panels.png", "image/png", on_click="ignore")
d2.download_button(
    "Settings + metrics (JSON)",
    lambda: rendered.settings_json(view),
    "focusmim_view.json",
    "application/json",
    on_click="ignore",
)
with st.expander("Checkpoint details"):
    st.markdown(rendered.details_markdown())
if (link := service.view_link(view)) is None:
    st.caption("An uploaded image is not part of a link: the address bar opens these settings on the default photo.")
else:
    st.caption(f"The address bar links to this view: `?{link}`")
st.caption(f"Showing {mode} at fixation ({view.fixation[0]}, {view.fixation[1]}).")
