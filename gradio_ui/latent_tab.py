"""The Latent space tab: the view's latent, its channel grid, the Ward tree over the 144 cells cut at 3, 4 and 5
clusters beside the cells' t-SNE (a click on a point outlines its cell), a second checkpoint side by side, and the
decorrelation and sparsity over a batch, as the Streamlit page shows them (``focusmim_core.explorer.research``
says what; this lays it out).

Gradio's Plotly plot has no point selection, so the t-SNE is drawn as a picture whose clicks find the nearest
point (``nearest_cell``)."""

from __future__ import annotations

import functools
from dataclasses import replace

import gradio as gr
import numpy as np
import pandas as pd
import torch

from focusmim_core.explorer import research, service
from focusmim_core.explorer.figures import CLUSTER_COLOURS, channel_grid_figure, correlation_heatmap
from focusmim_core.explorer.research import CHANNEL_COLUMNS, SEGMENTATION_CUTS
from focusmim_core.explorer.views import VIEWS
from focusmim_core.explorer.viewstate import FOLDERLESS_SOURCES, ViewState, one_of

from .common import LABELS, named, png_file, run_api, view_of

TAB = "latent"
SIDES = 2  # the view's checkpoint, and one more side by side
NONE = ""  # the id of "no second checkpoint" (checkpoint names are the other ids)
SOURCES = {name: label for name, label in service.BATCH_SOURCES.items() if name in FOLDERLESS_SOURCES}
TSNE_SIDE, TSNE_MARGIN, POINT_RADIUS, RING_RADIUS = 320, 16, 5, 10  # the t-SNE picture, in its pixels
SIDE_OUTPUTS = ("column", "name", "overlays", "tsne", "picked")  # per side
PICK = "click a point"  # how a t-SNE point is picked here


def layout() -> dict[str, object]:
    """The tab and its components, by name (per side: a list of ``SIDES``)."""
    c: dict[str, object] = {name: [] for name in SIDE_OUTPUTS}
    with gr.Tab(VIEWS[TAB].title, id=TAB) as c["tab"]:
        c["caption"], c["channels"] = gr.Markdown(), gr.Plot(label="Latent channels")
        c["heading"] = gr.Markdown()
        with gr.Row():
            c["other"] = gr.Dropdown([(research.NO_OTHER_LABEL, NONE)], value=NONE, label=research.OTHER_LABEL)
            c["cut"] = gr.Radio([(research.cut_label(k), k) for k in SEGMENTATION_CUTS], value=research.DEFAULT_CUT,
                                label=research.CUT_LABEL)  # fmt: skip
        c["cells"] = gr.State([None] * SIDES)  # the cell picked on each side (None: none)
        with gr.Row():
            for side in range(SIDES):
                with gr.Column(visible=side == 0) as column:
                    c["column"].append(column)
                    c["name"].append(gr.Markdown())
                    c["overlays"].append(gr.Gallery(label="Clusters", columns=len(SEGMENTATION_CUTS), format="png",
                                                    height="auto", elem_classes="pixelated"))  # fmt: skip
                    c["tsne"].append(gr.Image(label=f"t-SNE of the cells: {PICK}", interactive=False,
                                              format="png", height=TSNE_SIDE, width=TSNE_SIDE))  # fmt: skip
                    c["picked"].append(gr.Markdown())
        gr.Markdown("### Decorrelation and sparsity over a batch")
        with gr.Row():
            c["source"] = gr.Radio([(label, name) for name, label in SOURCES.items()], value=research.DEFAULT_BATCH,
                                   label="Images")  # fmt: skip
            c["everyone"] = gr.Checkbox(False, label=research.EVERY_CHECKPOINT_LABEL)
        c["statistics"] = gr.Dataframe(interactive=False, show_label=False)
        c["statistics_notes"], c["correlations"] = gr.Markdown(), gr.Plot(label="Unit correlations", visible=False)
    return c


def tsne_positions(embedding: np.ndarray) -> np.ndarray:
    """Where the t-SNE's points ``(P, 2)`` are drawn in its picture: pixels ``(P, 2)`` (x right, y down), the
    aspect kept."""
    low, high = embedding.min(axis=0), embedding.max(axis=0)
    span = max(float((high - low).max()), 1e-9)
    scaled = (embedding - (low + high) / 2) / span * (TSNE_SIDE - 2 * TSNE_MARGIN) + TSNE_SIDE / 2
    return np.stack([scaled[:, 0], TSNE_SIDE - scaled[:, 1]], axis=1)  # y up, as a chart draws it


def tsne_picture(embedding: np.ndarray, colours: np.ndarray, cell: int | None) -> np.ndarray:
    """The t-SNE ``(P, 2)`` as a uint8 ``(TSNE_SIDE, TSNE_SIDE, 3)`` picture: each cell a dot in its cluster's
    colour (``colours``: ``(P,)``), ``cell`` ringed in black."""
    out = np.full((TSNE_SIDE, TSNE_SIDE, 3), 255, np.uint8)
    rows, columns = np.mgrid[0:TSNE_SIDE, 0:TSNE_SIDE] + 0.5
    for (x, y), k in zip(tsne_positions(embedding), colours, strict=True):
        distance = np.hypot(columns - x, rows - y)
        out[distance <= POINT_RADIUS + 1] = (51, 51, 51)
        out[distance <= POINT_RADIUS] = CLUSTER_COLOURS[int(k) % len(CLUSTER_COLOURS)]
    if cell is not None:
        x, y = tsne_positions(embedding)[cell]
        out[np.abs(np.hypot(columns - x, rows - y) - RING_RADIUS) <= 1.5] = 0
    return out


def nearest_cell(embedding: np.ndarray, x: float, y: float) -> int:
    """The cell whose point in the t-SNE picture is nearest its pixel ``(x, y)``."""
    return int(np.argmin(np.hypot(*(tsne_positions(embedding) - (x, y)).T)))


@functools.lru_cache(maxsize=16)
def _tsne(data: bytes, shape: tuple[int, ...]) -> np.ndarray:
    return service.latent_tsne(torch.frombuffer(bytearray(data), dtype=torch.float32).view(shape))


def tsne(latent: torch.Tensor) -> np.ndarray:
    """The t-SNE ``(144, 2)`` of a latent's ``(C, 12, 12)`` cells, computed once per latent."""
    vectors = latent.detach().float().contiguous()
    return _tsne(vectors.numpy().tobytes(), tuple(vectors.shape))


def networks(view: ViewState, other: str) -> list[service.Network]:
    """The view's network, and the ``other`` checkpoint's (a listed name) when one is chosen."""
    listed = service.available_checkpoints()
    if other == NONE:
        return [service.network_for(view, listed)]
    one_of(other, research.OTHER_LABEL, [info.name for info in listed if info.error is None])
    return [service.network_for(view, listed), service.network_for(replace(view, checkpoint=other), listed)]


def side(image: torch.Tensor, network: service.Network, latent: torch.Tensor, cut: int, cell: int | None) -> list:
    """One side's ``SIDE_OUTPUTS``: its checkpoint's name, the cuts over the image, the t-SNE and the picked cell."""
    labels = service.latent_segmentation(latent)
    overlays = [(png_file(overlay), caption) for overlay, caption in research.cut_overlays(image, labels, cell)]
    embedding, colours = tsne(latent), research.cut_colours(labels, cut)
    width = labels.shape[-1]
    picked = "" if cell is None else (f"Cell row {cell // width}, column {cell % width}: cluster "
                                      f"{int(colours[cell])} of the {research.cut_label(cut)}.")  # fmt: skip
    name = network.info.name if network.info else "untrained"
    notes = "".join(f"\n\n{note}" for note in network.notes)
    return [gr.update(visible=True), f"**{name}**{notes}", overlays, png_file(tsne_picture(embedding, colours, cell)),
            picked]  # fmt: skip


def sides(other: str, cut: int, cells: list, *inputs) -> tuple:
    """Every side's ``SIDE_OUTPUTS`` (one side: the second hidden), flattened side by side per output."""
    values = named(inputs)
    view = view_of(values, LABELS)
    cut = int(run_api(lambda: one_of(str(cut), research.CUT_LABEL, [str(k) for k in SEGMENTATION_CUTS])))
    item = run_api(lambda: service.item_for(view, values["upload"]))
    found = run_api(lambda: [(n, service.latent_of(item, view, n)) for n in networks(view, other)])
    shown = [side(item.image, network, latent, cut, cells[k]) for k, (network, latent) in enumerate(found)]
    shown += [[gr.update(visible=False), "", [], None, ""]] * (SIDES - len(shown))
    return tuple(value for k in range(len(SIDE_OUTPUTS)) for value in (s[k] for s in shown))


@functools.lru_cache(maxsize=4)
def batch_latents(source: str, path: str | None, modified: float) -> torch.Tensor:
    """Latents ``(N, 128, 12, 12)`` of a batch source (an id of ``SOURCES``) under the checkpoint at ``path`` (None:
    untrained), computed once per file version (``modified``: its mtime)."""
    model = service.untrained_network() if path is None else service.load_network(path, modified)
    return service.batch_latents(model, source)


def statistics(source: str, everyone: bool, *inputs) -> tuple:
    """The decorrelation and sparsity table over a batch (``source``) for the view's checkpoint (``everyone``:
    every readable one), its caption, and the view's checkpoint's unit correlations."""
    source = run_api(lambda: one_of(source, "Images", SOURCES))
    view = view_of(named(inputs), LABELS)
    listed = service.available_checkpoints()
    info = service.network_for(view, listed).info
    readable = [c for c in listed if c.error is None]
    rows, latents = [], None
    for target in (readable or [info]) if everyone else [info]:
        version = service.file_version(target)
        codes = batch_latents(source, *(version or (None, 0.0)))
        rows.append(service.statistics_row(target, codes))
        if (target and target.name) == (info and info.name):
            latents = codes
    caption = research.statistics_caption(rows[0]["images"] if rows else 0)
    figure = None
    if latents is not None and latents.shape[0] > 2:
        figure = correlation_heatmap(*service.correlations(latents, research.CORRELATED_UNITS))
    return pd.DataFrame(rows), caption, gr.update(value=figure, visible=figure is not None)


def view_caption(view: ViewState, item: object, network: service.Network) -> str:
    """Whose latent the tab shows: the image, the view's input and the checkpoint."""
    name = network.info.name if network.info else "untrained"
    return f"{item.caption}: latent of the {view.mode} input at fixation {view.fixation} (checkpoint: {name})."


def page(other: str, cut: int, source: str, everyone: bool, *inputs) -> tuple:
    """Every output of the tab (``outputs`` order) on its selection: no cell picked, the second checkpoint kept
    while it is still listed."""
    values = named(inputs)
    view = view_of(values, LABELS)
    listed = service.available_checkpoints()
    network = service.network_for(view, listed)
    others = [c.name for c in listed if c.error is None and (network.info is None or c.name != network.info.name)]
    other = other if other in others else NONE
    item = run_api(lambda: service.item_for(view, values["upload"]))
    latent = run_api(lambda: service.latent_of(item, view, network))
    rows, columns = latent.shape[-2:]
    grid = channel_grid_figure(service.channel_grid(latent, CHANNEL_COLUMNS), CHANNEL_COLUMNS, latent.shape[-1])
    caption = research.segmentation_caption(rows, columns, PICK)
    heading = f"### {research.segmentation_heading(rows, columns)}\n\n{caption}"
    choices = gr.update(choices=[(research.NO_OTHER_LABEL, NONE), *((name, name) for name in others)], value=other)
    cells = [None] * SIDES
    return (cells, view_caption(view, item, network), grid, heading, choices, *sides(other, cut, cells, *inputs),
            *statistics(source, everyone, *inputs))  # fmt: skip


def pick(number: int):
    """The listener of side ``number``'s t-SNE picture: the click's nearest cell picked, every side redrawn."""

    def picked(cells: list, other: str, cut: int, evt: gr.SelectData, *inputs) -> tuple:
        values = named(inputs)
        view = view_of(values, LABELS)
        item = run_api(lambda: service.item_for(view, values["upload"]))
        chosen = run_api(lambda: networks(view, other))
        if number >= len(chosen):
            return (cells, *sides(other, cut, cells, *inputs))
        embedding = tsne(service.latent_of(item, view, chosen[number]))
        cells = [nearest_cell(embedding, *evt.index[:2]) if k == number else cell for k, cell in enumerate(cells)]
        return (cells, *sides(other, cut, cells, *inputs))

    return picked


def side_outputs(c: dict) -> list:
    """``sides``' outputs, in its order."""
    return [c[name][k] for name in SIDE_OUTPUTS for k in range(SIDES)]


def opener(c: dict, inputs: list) -> tuple:
    """What fills the tab: (``page``, its inputs, its outputs; ``inputs``: the controls, in ``FIELDS`` order)."""
    stats_out = [c["statistics"], c["statistics_notes"], c["correlations"]]
    page_out = [c["cells"], c["caption"], c["channels"], c["heading"], c["other"], *side_outputs(c), *stats_out]
    return page, [c["other"], c["cut"], c["source"], c["everyone"], *inputs], page_out


def listen(c: dict, inputs: list, batch: dict) -> None:
    """Fill the tab when it is selected; redraw the sides when the second checkpoint, the cut or a picked point
    changes, the statistics when their batch does (``inputs``: the controls, in ``FIELDS`` order; ``batch``: the
    listeners' queue settings)."""
    c["tab"].select(*opener(c, inputs), **batch)
    redraw = [c["other"], c["cut"], c["cells"], *inputs]
    for control in (c["other"], c["cut"]):
        control.input(sides, redraw, side_outputs(c), **batch)
    for number, picture in enumerate(c["tsne"]):
        picture.select(pick(number), [c["cells"], c["other"], c["cut"], *inputs], [c["cells"], *side_outputs(c)],
                       **batch)  # fmt: skip
    stats_out = [c["statistics"], c["statistics_notes"], c["correlations"]]
    for control in (c["source"], c["everyone"]):
        control.input(statistics, [c["source"], c["everyone"], *inputs], stats_out, **batch)
