"""The Checkpoints and runs tab: every checkpoint with its metadata and held-out quality, the training curves,
the experiment grids beside the paper's Fig. 4 and the probe accuracies beside the paper's, as the Streamlit
page shows them (``focusmim_core.explorer.research`` says what; this lays it out)."""

from __future__ import annotations

import gradio as gr
import pandas as pd

from focusmim_core.errors import InputError
from focusmim_core.explorer import research, service
from focusmim_core.explorer.figures import grid_chart, probe_chart
from focusmim_core.explorer.views import VIEWS
from focusmim_core.explorer.viewstate import one_of

from .common import run_api

TAB = "checkpoints"
CATALOG = ("catalog_notes", "catalog", "broken_notes", "broken", "quality", "quality_notes")
RUNS = ("runs", "run_plot", "run_notes")
GRID = ("grid_notes", "grid_table", "grid_plot")
PROBE = ("probe_table", "probe_plot", "probe_notes", "paper")


def layout() -> dict[str, gr.components.Component]:
    """The tab and its components, by name (the tab itself: ``tab``)."""
    c: dict[str, gr.components.Component] = {}
    with gr.Tab(VIEWS[TAB].title, id=TAB) as c["tab"]:
        c["catalog_notes"] = gr.Markdown()
        c["catalog"] = gr.Dataframe(label="Checkpoints", interactive=False, wrap=True)
        c["broken_notes"], c["broken"] = gr.Markdown(), gr.Dataframe(interactive=False, visible=False)
        c["quality"] = gr.Plot(label="Held-out quality over training", visible=False)
        c["quality_notes"] = gr.Markdown()
        gr.Markdown("### Training curves")
        with gr.Row():
            c["runs"] = gr.Dropdown([], multiselect=True, label="Runs", scale=3)
            c["metric"] = gr.Dropdown(list(service.CURVE_KEYS), value=service.CURVE_KEYS[0], label="Metric")
        c["run_plot"], c["run_notes"] = gr.Plot(label="Training curves", visible=False), gr.Markdown()
        c["grid_heading"] = gr.Markdown("### Experiment grids", visible=False)
        c["grid_folder"] = gr.Dropdown([], label="Grid folder", visible=False)
        c["grid_notes"] = gr.Markdown()
        c["grid_table"] = gr.Dataframe(label="Probe accuracy per condition", interactive=False, visible=False)
        c["grid_plot"] = gr.Plot(label="Fig. 4", visible=False)
        gr.Markdown("### Linear-probe accuracy: ours vs the paper's")
        c["probe_table"] = gr.Dataframe(label="Probe accuracy per checkpoint", interactive=False, visible=False)
        c["probe_plot"], c["probe_notes"] = gr.Plot(label="Probe accuracy", visible=False), gr.Markdown()
        gr.Markdown(research.PAPER_HEADING)
        c["paper"] = gr.Dataframe(show_label=False, interactive=False)
    return c


def shown(value: object) -> dict:
    """An update showing ``value``, or hiding the component when it is None."""
    return gr.update(value=value, visible=value is not None)


def catalog() -> tuple:
    """``CATALOG``'s values: the checkpoints' table and notes, the broken files apart, the held-out quality curves."""
    listed = service.available_checkpoints()
    infos = [info for info in listed if info.error is None]
    broken = [info for info in listed if info.error is not None]
    folders = service.checkpoint_folders()
    missing, demos = research.catalog_notes(infos, folders)
    notes = [f"⚠️ {missing}"] if missing else []
    notes += [demos] if demos else []
    notes += [research.searched_caption(folders)] if infos else []
    table = pd.DataFrame(service.checkpoint_rows(infos)) if infos else None
    curves = service.quality_curves(infos)
    return (
        "\n\n".join(notes), shown(table), f"⚠️ {research.broken_note(broken)}" if broken else "",
        shown(research.broken_table(broken) if broken else None), shown(research.quality_chart(curves) if curves
        else None), research.QUALITY_CAPTION if curves else "",
    )  # fmt: skip


def run_curves(chosen: list[str] | None, key: str) -> tuple:
    """``RUNS``' values but the first: one metric (``key``) of the ``chosen`` runs per epoch, and the notes."""
    runs = service.training_runs()
    if not runs:
        return shown(None), research.no_runs_note(service.run_folders())
    key = run_api(lambda: one_of(key, "metric", service.CURVE_KEYS))
    figure, empty, skipped = research.run_chart([run for run in runs if run.name in (chosen or [])], key)
    return shown(figure), "\n\n".join(note for note in (empty, skipped and f"⚠️ {skipped}") if note)


def grid(folder: str | None) -> tuple:
    """``GRID``'s values for one of ``service.grid_folders`` (by its path): the caption and notes, the Fig. 4 table
    and chart; nothing for no folder."""
    folders = {str(path): path for path in service.grid_folders()}
    if not folder:
        return "", shown(None), shown(None)
    try:
        path = folders[one_of(folder, "grid folder", folders)]
    except InputError as error:
        return f"⚠️ {error}", shown(None), shown(None)
    found = service.grid_view(path)
    notes = [f"⚠️ {found.error}"] if found.error else []
    if found.problems:
        notes.append(f"⚠️ {research.skipped_lines_note(found.problems, service.RESULTS_FILE)}")
    if found.settings is not None:
        notes.append(research.grid_caption(found.settings, found.finished, found.total))
        if not found.summaries:
            notes.append(research.no_cells_note(path))
    table = research.table(found.summaries, research.GRID_COLUMNS).round(1) if found.summaries else None
    return "\n\n".join(notes), shown(table), shown(grid_chart(found.summaries) if found.summaries else None)


def probes() -> tuple:
    """``PROBE``'s values: our probe accuracies beside the paper's, the random-init baseline, the paper's table."""
    rows = service.probe_rows([info for info in service.available_checkpoints() if info.error is None])
    measured = any(row.accuracy is not None for row in rows)
    baseline, problem = service.random_init_baseline()
    notes = [research.NO_PROBE_NOTE] if rows and not measured else []
    notes += [f"⚠️ {problem}"] if problem else []
    notes += [research.baseline_caption(baseline)] if baseline is not None else []
    table = research.table(rows, research.PROBE_COLUMNS).round(1) if rows else None
    return shown(table), shown(probe_chart(rows) if measured else None), "\n\n".join(notes), research.paper_table()


def page(chosen: list[str] | None, key: str, folder: str | None) -> tuple:
    """Every output of the tab (``outputs`` order) on its selection: the run and grid choices kept where they
    still exist, the first ``research.RUNS_SHOWN`` runs and the first grid otherwise."""
    names = [run.name for run in service.training_runs()]
    chosen = [name for name in chosen or [] if name in names] or names[: research.RUNS_SHOWN]
    folders = [str(path) for path in service.grid_folders()]
    folder = folder if folder in folders else (folders[0] if folders else None)
    return (
        *catalog(), gr.update(choices=names, value=chosen), *run_curves(chosen, key),
        gr.update(visible=bool(folders)), gr.update(choices=folders, value=folder, visible=bool(folders)),
        *grid(folder), *probes(),
    )  # fmt: skip


def outputs(c: dict[str, gr.components.Component]) -> list[gr.components.Component]:
    """``page``'s outputs, in its order."""
    names = (*CATALOG, *RUNS, "grid_heading", "grid_folder", *GRID, *PROBE)
    return [c[name] for name in names]


def opener(c: dict[str, gr.components.Component]) -> tuple:
    """What fills the tab: (``page``, its inputs, its outputs)."""
    return page, [c["runs"], c["metric"], c["grid_folder"]], outputs(c)


def listen(c: dict[str, gr.components.Component], batch: dict) -> None:
    """Fill the tab when it is selected, redraw the curves or the grid when their choice changes (``batch``: the
    listeners' queue settings)."""
    c["tab"].select(*opener(c), **batch)
    for control in (c["runs"], c["metric"]):
        control.input(run_curves, [c["runs"], c["metric"]], [c["run_plot"], c["run_notes"]], **batch)
    c["grid_folder"].input(grid, c["grid_folder"], [c[name] for name in GRID], **batch)
