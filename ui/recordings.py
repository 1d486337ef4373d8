"""The Scanpath page's people's recordings: choose one, an observer, and replay their scanpath glimpse by glimpse."""

from __future__ import annotations

import streamlit as st

from focusmim_core import InputError
from focusmim_core.explorer import service
from focusmim_core.explorer.figures import scanpath_chart
from focusmim_core.explorer.viewstate import ViewState

REPLAY_CACHE = "recording_replays"  # session key: (recording, photo, observer, mode, ratio, fill) -> Replay
SCALE = 3


def chosen_recording():  # a (key, Recording), the Recording None until an upload is complete
    """The recording the visitor picks: a listed one, or an uploaded photo and table."""
    choices = service.recording_choices()
    choice = st.selectbox("Recording", list(choices), key="recording_choice", format_func=choices.get)
    if choice != service.UPLOAD_CHOICE:
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
    for column, (picture, caption) in zip(st.columns(4), service.replay_pictures(replay, k, SCALE), strict=True):
        column.image(picture, caption=caption, width="stretch")
    st.caption(service.next_fixation_note(replay, k))
    st.plotly_chart(scanpath_chart(replay.curves, "masked_mse"), key="recording_chart")


def show_recordings(view: ViewState, mode: str, ratio: float) -> None:
    """The recordings part of the Scanpath page."""
    try:
        key, recording = chosen_recording()
        if recording is None:
            return
        summary = service.recording_summary(recording)
        st.caption(" ".join(service.recording_notes(summary)))
        if not summary["images"]:  # every fixation outside the frame: the caption says so
            return
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
