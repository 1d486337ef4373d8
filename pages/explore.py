"""Explore: click where the eye fixates; see what the network gets, what it makes of it, and its error."""

from urllib.parse import urlencode

import streamlit as st

from focusmim_core import MODES, InputError
from focusmim_core.explorer import service
from focusmim_core.explorer.catalog import describe, details_markdown
from focusmim_core.explorer.export import panel_row_png, settings_json
from focusmim_core.explorer.figures import framed, heatmap_row, pixelated
from focusmim_core.explorer.render import harmonic_caption, harmonic_reference
from focusmim_core.explorer.viewstate import IMAGE_SIZE, MAX_SEED, to_query
from focusmim_core.masking import FILLS
from ui import keys, state
from ui.widgets import checkpoint_notice, clickable_image, explore_controls

PANEL_SCALE = 3

item, problems = state.current_item()


def _set_point(x: int, y: int) -> None:
    if st.session_state.get(keys.CLICK_TARGET) == "attention point" and st.session_state.get(keys.ATTENTION):
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
    st.selectbox("Masking mode", list(MODES), key=keys.MODE, format_func=lambda m: MODES[m].label)
    st.caption(spec.description)
    st.slider("Masking ratio", 0.0, 1.0, key=keys.RATIO, step=0.05, disabled=not spec.uses_ratio)
    st.radio("Fill of hidden pixels", FILLS, key=keys.FILL, horizontal=True, disabled=not spec.uses_fill)
    st.number_input(
        "Random-patch seed",
        0,
        MAX_SEED,
        key=keys.SEED,
        step=1,
        disabled=not spec.uses_seed,
        help="Which patches are hidden: the same seed shows the same patches (it is part of the link).",
    )
    fx_col, fy_col = st.columns(2)
    fx_col.number_input("Fixation x (column)", 0, IMAGE_SIZE - 1, key=keys.FIXATION_X, step=1)
    fy_col.number_input("Fixation y (row)", 0, IMAGE_SIZE - 1, key=keys.FIXATION_Y, step=1)
    st.toggle(
        "Covert attention: a second visible point",
        key=keys.ATTENTION,
        disabled=not spec.supports_attention,
        help="Paper 4.5: a second disc of the same radius (periphery modes) or a second fovea.",
    )
    if attention is not None:
        ax_col, ay_col = st.columns(2)
        ax_col.number_input("Attention x", 0, IMAGE_SIZE - 1, key=keys.ATTENTION_X, step=1)
        ay_col.number_input("Attention y", 0, IMAGE_SIZE - 1, key=keys.ATTENTION_Y, step=1)
        st.radio("A click sets the", ["fixation", "attention point"], key=keys.CLICK_TARGET, horizontal=True)
    st.toggle(
        "Compare with harmonic inpainting (no learning)",
        key=keys.HARMONIC,
        disabled=not spec.uses_fill,
        help="The smoothest fill through the visible pixels: every hidden pixel the average of its neighbours. "
        "A network that beats it predicts more than a blur of what it was shown.",
    )

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
panels, info = rendered.panels, rendered.checkpoint

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
elif st.session_state.get(keys.HARMONIC) and (reference := harmonic_reference(panels)) is not None:
    filled, reference_psnr = reference
    images.insert(3, ("Harmonic inpainting (no learning)", pixelated(filled, PANEL_SCALE)))
    if (sentence := harmonic_caption(peak, reference_psnr)) is not None:
        with right:
            st.caption(sentence)
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

checkpoint_info = describe(info)
d1, d2, _ = st.columns([1, 1, 3])
d1.download_button("Panels (PNG)", lambda: panel_row_png(panels), "focusmim_panels.png", "image/png", on_click="ignore")
d2.download_button(
    "Settings + metrics (JSON)",
    lambda: settings_json(view, panels, checkpoint_info),
    "focusmim_view.json",
    "application/json",
    on_click="ignore",
)
with st.expander("Checkpoint details"):
    st.markdown(details_markdown(checkpoint_info))
if view.source == "upload":
    st.caption("An uploaded image is not part of a link: the address bar opens these settings on the default photo.")
else:
    st.caption(f"The address bar links to this view: `?{urlencode(to_query(view))}`")
st.caption(f"Showing {mode} at fixation ({view.fixation[0]}, {view.fixation[1]}).")
