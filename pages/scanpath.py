"""Scanpath: a sequence of fixations, what each glimpse reveals, and where to look next."""


from dataclasses import replace

import streamlit as st

from focusmim_core import MODES, InputError
from focusmim_core.explorer import service
from focusmim_core.explorer.figures import (
    MARKER_COLOURS,
    METRIC_LABELS,
    SUGGESTION_COLOUR,
    colour_map,
    pixelated,
    scanpath_chart,
)
from ui import keys, state
from ui.recordings import show_recordings
from ui.widgets import bound, checkpoint_notice, clickable_image

PATH_KEY = "scanpath"
MAX_FIXATIONS = service.MAX_FIXATIONS
SCANPATH_MODES = service.SCANPATH_MODES
SHOWN_GLIMPSES = 6
RATIO_SPAN = (0.5, 0.99)  # below 0.5 a single glimpse would show more than half of the image

st.title("Scanpath: what a sequence of eye movements reveals")
item, problems = state.current_item()
state.show_messages(state.link_messages() + problems)
view = state.view()
path = st.session_state.setdefault(PATH_KEY, [])
if st.session_state.get("scanpath_image") != view.image_key():  # a new image starts a new scanpath
    st.session_state["scanpath_image"] = view.image_key()
    path.clear()


def _add(x: int, y: int) -> None:
    if len(path) >= MAX_FIXATIONS:
        st.session_state["scanpath_full"] = True
        return
    path.append((x, y))


left, right = st.columns([5, 6], gap="large")
with right:
    bound(keys.SCAN_MODE, view.mode if view.mode in SCANPATH_MODES else "periphery", options=SCANPATH_MODES)
    mode = st.selectbox("Masking mode", SCANPATH_MODES, key=keys.SCAN_MODE, format_func=lambda m: MODES[m].label)
    bound(keys.SCAN_RATIO, float(view.ratio) if MODES[view.mode].uses_ratio else 0.9, span=RATIO_SPAN)
    ratio = st.slider(
        "Masking ratio (size of each revealed region)", *RATIO_SPAN, key=keys.SCAN_RATIO, step=0.01,
        disabled=not MODES[mode].uses_ratio,
    )

SOURCES = service.SCANPATH_SOURCES
if st.radio("Fixations", list(SOURCES), format_func=SOURCES.get, horizontal=True, key="scanpath_source") != "clicks":
    show_recordings(view, mode, float(ratio))  # replay a recorded observer's scanpath instead of clicks
    st.stop()

result = None
if path:  # computed before the buttons, so that "Look where suggested" knows whether it can do anything
    try:
        with st.spinner("Rendering the glimpses and the suggested and random scanpaths…"):
            scan_view = replace(view, mode=mode, ratio=float(ratio))
            result = service.scanpath_item(item, scan_view, path, state.checkpoints(), state.find_foreground)
    except InputError as error:
        st.error(str(error))
        st.stop()
panels, suggestion = (result.glimpses, result.suggestion) if result else ([], None)

with right:
    b1, b2, b3 = st.columns([2, 1, 1])
    b1.button(
        "Look where suggested",
        type="primary",
        disabled=suggestion is None or len(path) >= MAX_FIXATIONS,
        on_click=path.append,
        args=(suggestion,),
        help="Nothing left to reveal, or the scanpath is full." if path and suggestion is None else None,
    )
    if b2.button("Undo last", disabled=not path):
        path.pop()
        st.rerun()
    if b3.button("Clear", disabled=not path):
        path.clear()
        st.rerun()
    if st.session_state.pop("scanpath_full", False):
        st.warning(f"A scanpath here holds at most {MAX_FIXATIONS} fixations: undo or clear to go on.")

with left:
    points = [*path, suggestion] if suggestion else list(path)
    colours = [MARKER_COLOURS[2]] * max(len(path) - 1, 0) + [MARKER_COLOURS[0]] * bool(path)
    clickable_image(item.image, points, keys.SCANPATH_CLICK, _add, colours=[*colours, SUGGESTION_COLOUR][: len(points)])
    st.caption(
        f"{item.caption}. **Click to add a fixation** (latest red, earlier yellow); green: where to look next "
        "(the most foreground-weighted error the model still makes on the hidden area)."
    )
    if suggestion:
        st.caption(f"Suggested next fixation: ({suggestion[0]}, {suggestion[1]}).")
if result:
    checkpoint_notice([result.checkpoint], result.notes, result.caveats)
    if result.foreground_note:
        st.info(result.foreground_note)
else:
    network = state.network(mode, view.fill)
    checkpoint_notice([network.info], network.notes, network.substitutions)

if not panels:
    st.info("Click on the image to place the first fixation.")
    st.stop()

metric = result.metric
with right:
    last = panels[-1].metrics
    value = last["foreground_mse" if panels[-1].foreground is not None else "masked_mse"]
    label = f"{METRIC_LABELS.get(metric, metric)} after {len(path)} fixation{'s' * (len(path) > 1)}"
    st.metric(label, "n/a" if value is None else f"{value:.4f}")
    st.plotly_chart(scanpath_chart(result.curves, metric), key="scanpath_chart")
    st.caption(
        "Your scanpath vs the suggested one (greedy, from the model's own error) vs a random one: all start at your "
        "first fixation and have as many fixations as yours; random: seed 0."
    )

st.subheader("Glimpses")
shown = list(enumerate(panels))[-SHOWN_GLIMPSES:]
top = max(float(p.error_map.max()) for p in panels)
columns = st.columns(SHOWN_GLIMPSES)
for column, (k, glimpse) in zip(columns, shown, strict=False):
    with column:
        st.markdown(f"**after {k + 1}** ({path[k][0]}, {path[k][1]})")
        st.image(pixelated(glimpse.masked_input, 2), caption="input", width="stretch")
        st.image(pixelated(glimpse.reconstruction, 2), caption="reconstruction", width="stretch")
        st.image(pixelated(colour_map(glimpse.error_map, top), 2), caption="error", width="stretch")

