"""The sidebar every page shares: where the image comes from, and which checkpoint runs."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from focusmim_core import InputError, load_image
from focusmim_core.data import CLASS_NAMES, GALLERY, SPLITS, download_stl10
from focusmim_core.explorer.catalog import AUTO
from focusmim_core.explorer.sources import ImageItem, stl10_class_indices, stl10_folders, stl10_root
from focusmim_core.explorer.viewstate import SOURCE_LABELS, SOURCES
from focusmim_core.runtime import release_memory

from . import keys, state
from .widgets import bound, span

UPLOAD_ERROR = "upload_error"
ALL_CLASSES = ""  # the class selector's id for no filter (class names are the other ids)


def upload_item(uploaded: UploadedFile) -> tuple[ImageItem | None, str | None]:
    """An uploaded file (with ``name`` and ``read``) as an image to explore, or the loader's message."""
    try:
        return ImageItem(load_image(uploaded), f"upload: {uploaded.name}"), None
    except InputError as error:
        return None, str(error)
    finally:
        release_memory()  # an upload of any size was decoded: give its pages back to the system


def accept_upload(session: MutableMapping[str, Any], uploaded: UploadedFile) -> bool:
    """Put an uploaded file into the session as the image to explore; on a bad file keep its message and
    remove any earlier upload (never show an earlier image under the new file's name). True if accepted."""
    session[UPLOAD_ERROR] = None
    if uploaded is None:
        return False
    item, error = upload_item(uploaded)
    if item is not None:
        session[state.UPLOAD] = item
        return True
    if session.pop(state.UPLOAD, None) is not None:
        error += " The image uploaded before was removed."
    session[UPLOAD_ERROR] = error
    return False


def _read_upload() -> None:
    if accept_upload(st.session_state, st.session_state.get(keys.UPLOAD)):
        state.set_view(source="upload", image="upload")


def _download(root: str) -> None:
    try:
        with st.spinner("Downloading STL-10 (2.6 GB)…"):
            download_stl10(root)
        st.session_state["stl10_download_message"] = None
    except InputError as error:
        st.session_state["stl10_download_message"] = str(error)


def _stl10_controls() -> None:
    current = state.view()
    folders = stl10_folders()
    if st.session_state.get(state.STL10_DIR) not in folders:
        st.session_state[state.STL10_DIR] = stl10_root()
    st.selectbox(
        "STL-10 folder",
        folders,
        key=state.STL10_DIR,
        help="The folders the operator configured (FOCUSMIM_STL10, separated by ':'; and data/stl10).",
    )
    bound(keys.SPLIT, current.split, options=SPLITS)
    split = st.selectbox("Split", list(SPLITS), key=keys.SPLIT)
    try:
        dataset = state.stl10_dataset(split)
    except InputError as error:
        st.error(str(error))
        root = stl10_root(st.session_state.get(state.STL10_DIR))
        st.button(f"Download STL-10 into {root} (2.6 GB, needs internet)", on_click=_download, args=(root,))
        if st.session_state.get("stl10_download_message"):
            st.error(st.session_state["stl10_download_message"])
        return
    classes = [ALL_CLASSES] if dataset.labels is None else [ALL_CLASSES, *CLASS_NAMES]
    chosen = st.selectbox("Class", classes, key=keys.CLASS, format_func=lambda c: c or "all classes")
    indices = list(range(len(dataset))) if chosen == ALL_CLASSES else stl10_class_indices(dataset, chosen)
    if not indices:
        st.warning(f"No {chosen} images in this split.")
        return
    index = int(current.image) if current.source == "stl10" and current.image.isdigit() else indices[0]
    position = indices.index(index) if index in indices else 0
    positions = (0, len(indices) - 1)
    bound(keys.STL10_POSITION, position, span=positions)
    label = f"Image ({len(indices):,} in this selection)"
    position = st.number_input(label, *positions, key=keys.STL10_POSITION, step=1)
    state.set_view(source="stl10", split=split, image=str(indices[int(position)]))


def image_source() -> None:
    """Widgets choosing the image: gallery photo, procedural scene, STL-10 image, or an upload."""
    current = state.view()
    st.header("Image")
    bound(keys.SOURCE, current.source, options=SOURCES)
    source = st.radio("Source", SOURCES, format_func=SOURCE_LABELS.get, key=keys.SOURCE, horizontal=True)
    if source == "gallery":
        names = list(GALLERY)
        bound(keys.GALLERY_PHOTO, current.image, options=names)
        state.set_view(source=source, image=st.selectbox("Photo", names, key=keys.GALLERY_PHOTO))
    elif source == "synthetic":
        scenes = span("scene")
        bound(keys.SCENE, int(current.image) if current.image.isdigit() else 0, span=scenes)
        index = st.number_input("Scene number", *scenes, key=keys.SCENE, step=1)
        state.set_view(source=source, image=str(int(index)))
    elif source == "stl10":
        _stl10_controls()
    else:
        st.file_uploader(
            "Image file (PNG, JPEG, WebP, TIFF, BMP, GIF; up to 25 MB)",
            type=None,
            key=keys.UPLOAD,
            on_change=_read_upload,
        )
        if st.session_state.get(UPLOAD_ERROR):
            st.error(st.session_state[UPLOAD_ERROR])
        state.set_view(source="upload", image="upload")


def checkpoint_choice() -> None:
    """The checkpoint selector: ``auto`` (the one trained for each mode) or a specific file."""
    st.header("Checkpoint")
    names = [AUTO] + [info.name for info in state.checkpoints() if info.error is None]  # broken: never chosen
    current = state.view().checkpoint
    if current not in names:
        names.append(current)  # from a link: reported as not found where it is used
    bound(keys.CHECKPOINT, current, options=names)
    choice = st.selectbox(
        "Network",
        names,
        key=keys.CHECKPOINT,
        format_func=lambda n: "auto: trained for the masking mode" if n == AUTO else n,
    )
    state.set_view(checkpoint=choice)
    if not state.checkpoints():
        st.caption("No checkpoints found: the pages use an untrained network.")


def sidebar() -> None:
    """The shared sidebar."""
    with st.sidebar:
        image_source()
        checkpoint_choice()
