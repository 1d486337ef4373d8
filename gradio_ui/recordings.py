"""The Scanpath tab's people's recordings: a recording (the bundled one, an operator's folder from
``$FOCUSMIM_RECORDINGS``, or an uploaded photo and its table), one of its photos and observers, and that observer's
scanpath replayed glimpse by glimpse: what the network saw and reconstructed, its priority maps with a ring where
the observer looked next, the error curves of the human, model-suggested and random paths, and the photo's scores.
``focusmim_core.explorer.recordings`` computes all of it, for the Streamlit page as for this tab."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from focusmim_core.explorer import service
from focusmim_core.explorer.figures import scanpath_chart
from focusmim_core.explorer.viewstate import ViewState

from .common import LABELS, named, only_when, panel_gallery, png_file, quoted, run_api, view_of

CLICKS, RECORDINGS = service.SCANPATH_SOURCES  # the ids of "your clicks" and "people's recordings"
SCALE = 3  # the pictures' pixels per image pixel: the ring on a map stays visible
NO_CHOICE = gr.update(choices=[], value=None)
REPLAY_OUTPUTS = ("frames", "glimpse", "pictures", "next", "curves", "scores")


def layout() -> dict[str, object]:
    """The recordings' components, by name (their column starts hidden: the tab starts on the clicks)."""
    c: dict[str, object] = {}
    c["source"] = gr.Radio([(label, key) for key, label in service.SCANPATH_SOURCES.items()], value=CLICKS,
                           label="Fixations")  # fmt: skip
    with gr.Column(visible=False) as c["column"]:
        c["recording"] = gr.Dropdown(label="Recording", choices=[])
        with gr.Row(visible=False) as c["upload_row"]:
            c["photo_file"] = gr.File(label="Photo", file_types=["image"], type="filepath", height=100)
            c["table_file"] = gr.File(label="Fixation table (image, observer, x, y, ...)", file_types=[".csv", ".tsv"],
                                      type="filepath", height=100)  # fmt: skip
        with gr.Row():
            c["photo"], c["observer"] = gr.Dropdown(label="Photo"), gr.Dropdown(label="Observer")
        c["about"] = gr.Markdown()
        c["glimpse"] = gr.Slider(1, service.MAX_FIXATIONS, value=1, step=1, label="After fixation", visible=False)
        c["pictures"] = panel_gallery("What the network saw, its reconstruction, and its priority maps", 4)
        c["next"] = gr.Markdown()
        c["curves"] = gr.Plot(label="Error after each fixation: the observer's, the suggested and a random path")
        c["score"] = gr.Button("Score this photo (pysaliency, MultiMatch)")
        c["scores"] = gr.JSON(label="This photo's scores")
    c["recorded"] = gr.State(None)  # the chosen recording (None: an upload not complete yet)
    c["frames"] = gr.State([])  # per glimpse: its pictures [(file, caption), ...] and its note
    return c


def show_source(source: str, choice: str | None) -> tuple:
    """The clicks' and the recordings' columns shown by ``source``, and the recordings listed now (the choice
    kept if it still exists, else the first)."""
    choices = service.recording_choices()
    kept = choice if choice in choices else next(iter(choices))
    options = [(label, key) for key, label in choices.items()]
    shown = source == RECORDINGS
    return gr.update(visible=not shown), gr.update(visible=shown), gr.update(choices=options, value=kept)


def open_chosen(choice: str | None, photo_file: str | None, table_file: str | None) -> tuple:
    """The chosen recording (or the uploaded photo and table, once both are there): the recording, whether the
    upload row shows, the photos, the first photo's observers and what was kept, dropped and skipped."""
    uploading = gr.update(visible=choice == service.UPLOAD_CHOICE)
    if choice == service.UPLOAD_CHOICE and not (photo_file and table_file):
        return None, uploading, NO_CHOICE, NO_CHOICE, "Upload a photo and a table whose image column names it."
    if choice == service.UPLOAD_CHOICE:
        photo, table = Path(photo_file), Path(table_file)
        recording = run_api(lambda: service.upload_recording(table.read_bytes(), photo.read_bytes(), photo.name))
    else:
        recording = run_api(lambda: service.open_recording(choice))
    summary = service.recording_summary(recording)
    about = " ".join(service.recording_notes(summary))
    if not summary["images"]:  # every fixation outside the frame
        return recording, uploading, NO_CHOICE, NO_CHOICE, about
    photos = list(summary["images"])
    observers = summary["images"][photos[0]]
    return recording, uploading, gr.update(choices=photos, value=photos[0]), \
        gr.update(choices=observers, value=observers[0]), about


def photo_observers(recording: object, photo: str | None) -> dict:
    """The observers with a kept fixation on ``photo`` (the first chosen)."""
    if recording is None or not photo:
        return NO_CHOICE
    observers = service.recording_summary(recording)["images"].get(photo, [])
    return gr.update(choices=observers, value=observers[0] if observers else None)


def replay_view(values: dict[str, object]) -> ViewState:
    """The masking and the checkpoint a replay uses: the controls' (``gr.Error`` naming a bad one)."""
    view = view_of(values, LABELS)
    return ViewState(mode=view.mode, ratio=view.ratio, fill=view.fill, checkpoint=view.checkpoint)


def replay_observer(recording: object, photo: str | None, observer: str | None, *inputs) -> tuple:
    """``REPLAY_OUTPUTS`` of one observer's scanpath replayed under the controls' masking: every glimpse's
    pictures (the last shown), the slider over them, the three error curves, the scores cleared."""
    if recording is None or not photo or not observer:
        return [], gr.update(visible=False), [], "", None, None
    view = replay_view(named(inputs))
    replayed = run_api(lambda: service.replay(recording, photo, observer, view))
    frames = []
    for k in range(len(replayed.path)):
        pictures = [(png_file(p), caption) for p, caption in service.replay_pictures(replayed, k, SCALE)]
        frames.append((pictures, service.next_fixation_note(replayed, k)))
    count = len(frames)
    slider = gr.update(maximum=max(count, 2), value=count, visible=count > 1)  # one glimpse: nothing to slide
    chart = scanpath_chart(replayed.curves, "masked_mse")
    return frames, slider, frames[-1][0], frames[-1][1] + quoted(replayed.notes), chart, None


def show_glimpse(frames: list, glimpse: float) -> tuple:
    """The pictures and the note of glimpse ``glimpse`` (1-based) of the replay shown."""
    if not frames:
        return [], ""
    pictures, note = frames[min(max(int(glimpse), 1), len(frames)) - 1]
    return pictures, note


def score_photo(recording: object, photo: str | None, *inputs) -> dict | None:
    """The photo's scores per policy (AUC, NSS, information gain over the centre bias, MultiMatch)."""
    if recording is None or not photo:
        return None
    view = replay_view(named(inputs))
    return run_api(lambda: service.photo_scores(recording, photo, view))


def listen(c: dict[str, object], clicks: object, controls: list, batch: dict) -> None:
    """Wire the recordings' components (``clicks``: the clicks' column, hidden while a recording shows;
    ``controls``: the controls in ``FIELDS`` order; ``batch``: the batch queue's settings)."""
    private = {"api_visibility": "private"}
    chosen = [c["recording"], c["photo_file"], c["table_file"]]
    opened = [c["recorded"], c["upload_row"], c["photo"], c["observer"], c["about"]]
    replay = {"fn": replay_observer, "inputs": [c["recorded"], c["photo"], c["observer"], *controls],
              "outputs": [c[k] for k in REPLAY_OUTPUTS], **batch}  # fmt: skip
    shown = c["source"].change(show_source, [c["source"], c["recording"]], [clicks, c["column"], c["recording"]],
                               queue=False, **private)  # fmt: skip
    on_switch = shown.then(only_when(RECORDINGS, open_chosen, len(opened)), [c["source"], *chosen], opened, **private)
    on_switch.then(**replay | {"fn": only_when(RECORDINGS, replay_observer, len(REPLAY_OUTPUTS)),
                               "inputs": [c["source"], *replay["inputs"]]})  # fmt: skip
    for picked in (c["recording"].input, c["photo_file"].change, c["table_file"].change):
        picked(open_chosen, chosen, opened, **private).then(**replay)
    c["photo"].input(photo_observers, [c["recorded"], c["photo"]], c["observer"], **private).then(**replay)
    c["observer"].input(**replay)
    c["glimpse"].change(show_glimpse, [c["frames"], c["glimpse"]], [c["pictures"], c["next"]], queue=False,
                        show_progress="hidden", **private)  # fmt: skip
    c["score"].click(score_photo, [c["recorded"], c["photo"], *controls], c["scores"], **batch)
