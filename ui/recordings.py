"""The Scanpath page's people's recordings: choose one, an observer, and replay their scanpath glimpse by glimpse."""

from __future__ import annotations

import numpy as np
import streamlit as st

from focusmim_core import InputError
from focusmim_core.explorer import service
from focusmim_core.explorer.figures import colour_map, pixelated, scanpath_chart
from focusmim_core.explorer.viewstate import ViewState

UPLOAD_CHOICE = "upload"  # the recording choice for an uploaded photo and table
REPLAY_CACHE = "recording_replays"  # session key: (recording, photo, observer, mode, ratio, fill) -> Replay
SCALE = 3
MARK = (0, 255, 0)  # the next human fixation on the maps


def marked(values: np.ndarray, point: tuple[int, int] | None) -> np.ndarray:
    """A uint8 picture ``(H * SCALE, W * SCALE, 3)`` with a cross on ``point`` (frame pixels), when given."""
    picture = values.copy()
    if point is not None:
        x, y = (SCALE * v + SCALE // 2 for v in point)
        picture[max(y - 6, 0) : y + 7, max(x - 1, 0) : x + 2] = MARK
        picture[max(y - 1, 0) : y + 2, max(x - 6, 0) : x + 7] = MARK
    return picture


def chosen_recording():  # a (key, Recording), the Recording None until an upload is complete
    """The recording the visitor picks: a listed one, or an uploaded photo and table."""
    names = [entry.name for entry in service.list_recordings()]
    upload_label = "upload a photo and its table"
    choice = st.selectbox("Recording", [*names, UPLOAD_CHOICE], key="recording_choice",
                          format_func=lambda n: upload_label if n == UPLOAD_CHOICE else n)  # fmt: skip
    if choice != UPLOAD_CHOICE:
        return choice, service.open_recording(choice)
    photo = st.file_uploader("Photo", type=["png", "jpg", "jpeg"], key="recording_photo")
    table = st.file_uploader("Fixation table (image,observer,x,y...)", type=["csv", "tsv"], key="recording_table")
    if photo is None or table is None:
        st.info("Upload a photo and a table whose image column names it.")
        return choice, None
    return f"{choice}:{photo.name}", service.upload_recording(table.getvalue(), photo.getvalue(), photo.name)


def show_replay(replay: service.Replay) -> None:
    """The chosen glimpse's panels and maps with the next human fixation, and the three error curves."""
    count = len(replay.path)
    k = st.slider("After fixation", 1, count, count, key="recording_glimpse") - 1 if count > 1 else 0
    glimpse, maps, following = replay.glimpses[k], replay.maps[k], replay.next_fixations[k]
    columns = st.columns(4)
    columns[0].image(pixelated(glimpse.masked_input, SCALE), caption=f"seen after {k + 1}", width="stretch")
    columns[1].image(pixelated(glimpse.reconstruction, SCALE), caption="reconstruction", width="stretch")
    for column, name in zip(columns[2:], service.MAP_CAPTIONS, strict=True):
        picture = marked(pixelated(colour_map(maps[name]), SCALE), following)
        column.image(picture, caption=service.MAP_CAPTIONS[name], width="stretch")
    st.caption("Green cross: where the observer looked next." if following else "The observer's last fixation.")
    st.plotly_chart(scanpath_chart(replay.curves, "masked_mse"), key="recording_chart")


def show_recordings(view: ViewState, mode: str, ratio: float) -> None:
    """The recordings part of the Scanpath page."""
    try:
        key, recording = chosen_recording()
        if recording is None:
            return
        summary = service.recording_summary(recording)
        photo = st.selectbox("Photo", list(summary["images"]), key="recording_image")
        observer = st.selectbox("Observer", summary["images"][photo], key="recording_observer")
        settings = ViewState(mode=mode, ratio=ratio, fill=view.fill, checkpoint=view.checkpoint)
        cache = st.session_state.setdefault(REPLAY_CACHE, {})
        cache_key = (key, photo, observer, mode, ratio, view.fill, view.checkpoint)
        if cache_key not in cache:
            with st.spinner("Replaying the scanpath…"):
                cache.clear()
                cache[cache_key] = service.replay(recording, photo, observer, settings)
        show_replay(cache[cache_key])
        if st.button("Score this photo (pysaliency, MultiMatch)", key="recording_score"):
            with st.spinner("Scoring every observer's fixations on this photo…"):
                st.json(service.photo_scores(recording, photo, settings))
    except InputError as error:
        st.error(str(error))
