"""Per-session state (``st.session_state`` only) and process-wide caches (models, foreground maps).

User state never lives in module globals: every user has their own ``st.session_state``.
Models, the rembg session and the foreground maps are the service's caches (one per process,
shared with the Gradio front-end); STL-10 files are opened once per process (``st.cache_resource``).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import streamlit as st
import torch

from focusmim_core import InputError
from focusmim_core.checkpoints import CheckpointInfo
from focusmim_core.data import STL10
from focusmim_core.explorer import service
from focusmim_core.explorer.catalog import (
    available_checkpoints,
    checkpoint_folders,
)
from focusmim_core.explorer.sources import ImageItem, gallery_item, open_stl10, stl10_item, stl10_root, synthetic_item
from focusmim_core.explorer.viewstate import ViewState, parse_query, to_query

VIEW = "view"
MESSAGES = "view_messages"
UPLOAD = "upload_item"
STL10_DIR = "stl10_dir"


def view() -> ViewState:
    """This session's view; the first call of a session reads it from the URL's query parameters."""
    if VIEW not in st.session_state:
        parsed, messages = parse_query({k: st.query_params.get_all(k) for k in st.query_params})
        st.session_state[VIEW] = parsed
        st.session_state[MESSAGES] = messages
    return st.session_state[VIEW]


def set_view(**changes) -> ViewState:
    """Change fields of this session's view (e.g. ``set_view(fixation=(10, 20))``)."""
    st.session_state[VIEW] = replace(view(), **changes)
    return st.session_state[VIEW]


def publish_view() -> None:
    """Write the view into the URL's query parameters, so that the address bar is a link to it."""
    query = to_query(view())
    current = {k: st.query_params.get(k) for k in st.query_params}
    if current != query:
        st.query_params.from_dict(query)


def link_messages() -> list[str]:
    """What was wrong with the link this session was opened with (returned once, on the first page shown)."""
    return st.session_state.pop(MESSAGES, [])


def show_messages(messages: list[str]) -> None:
    """Show each problem message as a warning (never a traceback)."""
    for message in messages:
        st.warning(message, icon=":material/warning:")


@st.cache_data(ttl=10, show_spinner=False)
def _checkpoints(folders: tuple[str, ...]) -> list[CheckpointInfo]:
    return available_checkpoints([Path(f) for f in folders])


def checkpoints() -> list[CheckpointInfo]:
    """Every checkpoint of the shipped folder and ``$FOCUSMIM_CHECKPOINTS`` (re-scanned every 10 s)."""
    return _checkpoints(tuple(str(f) for f in checkpoint_folders()))


def network(mode: str, fill: str, selection: str | None = None) -> service.Network:
    """The network for a mode (the view's checkpoint choice), the checkpoint used, and notes for the user."""
    chosen = replace(view(), mode=mode, fill=fill, checkpoint=selection or view().checkpoint)
    return service.network_for(chosen, checkpoints())


@st.cache_data(max_entries=32, show_spinner=False)
def batch_latents(source: str, split: str, stl10_dir: str | None, checkpoint: str, modified: float) -> torch.Tensor:
    """Latents ``(N, 128, 12, 12)`` of a batch source (an id of ``BATCH_SOURCES``) under one checkpoint (cached
    per file version)."""
    dataset = stl10_dataset(split) if source == "stl10" else None
    info = next((i for i in checkpoints() if i.name == checkpoint), None)
    model = service.untrained_network() if info is None else service.load_network(str(info.path), modified)
    return service.batch_latents(model, source, dataset)


def find_foreground(pixels: np.ndarray) -> np.ndarray | str:
    """rembg's foreground ``(96, 96)`` of uint8 ``(96, 96, 3)`` pixels (the service's cache), or a message why not."""
    with st.spinner("Finding the foreground (rembg)…"):  # shown only if it takes over half a second
        return service.rembg_foreground(pixels)


@st.cache_resource(show_spinner=False, max_entries=8)
def _stl10(root: str, split: str) -> STL10:
    return open_stl10(root, split)


def stl10_dataset(split: str) -> STL10:
    """The STL-10 split of the configured folder chosen in the sidebar; raises ``DatasetError``."""
    return _stl10(str(Path(stl10_root(st.session_state.get(STL10_DIR))).expanduser()), split)


@st.cache_data(max_entries=64, show_spinner=False)
def _synthetic(index: int) -> ImageItem:
    return synthetic_item(index)


def current_item() -> tuple[ImageItem, list[str]]:
    """The view's image and problem messages; a missing image falls back to the default photo."""
    current = view()
    try:
        if current.source == "gallery":
            return gallery_item(current.image), []
        if current.source == "synthetic":
            return _synthetic(int(current.image)), []
        if current.source == "stl10":
            return stl10_item(stl10_dataset(current.split), int(current.image)), []
        if current.source == "upload":
            item = st.session_state.get(UPLOAD)
            if item is not None:
                return item, []
            message = "No uploaded image in this session: upload one in the sidebar."
    except (InputError, ValueError) as error:
        message = str(error)
    default = ViewState()
    return gallery_item(default.image), [f"{message} Showing the photo {default.image!r} instead."]


def is_demo(info: CheckpointInfo | None) -> bool:
    """Whether a checkpoint is a demo (or missing: the untrained fallback)."""
    return info is None or bool(info.metadata.demo)

