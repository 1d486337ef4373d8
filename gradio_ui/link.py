"""The view in the URL: a Gradio link's query opens the view it names (read by Streamlit's own parser,
``viewstate.parse_query``, with the same messages), and the address bar follows the view and the tab."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace

import gradio as gr

from focusmim_core.explorer.controls import default_attention
from focusmim_core.explorer.service import CONTROLS, view_link
from focusmim_core.explorer.views import DEFAULT_VIEW, TAB_PARAMETER, VIEWS, parse_view
from focusmim_core.explorer.viewstate import FOLDERLESS_SOURCES, SOURCE_LABELS, ViewState, parse_query

from .common import FIELDS, LABELS, named, view_of

LINKED = tuple(name for name in FIELDS if name not in ("upload", "harmonic"))  # the controls a link sets


def query_of(request: gr.Request | None) -> dict[str, list[str]]:
    """The page's query parameters, every value of each (as Streamlit hands them to ``parse_query``)."""
    params = getattr(request, "query_params", None) or {}
    return {key: params.getlist(key) for key in params}


def linked_view(params: Mapping[str, str | Sequence[str]]) -> tuple[ViewState, str, list[str]]:
    """The view and the tab a link names, and one message per value that was ignored (``parse_query``'s, then
    the tab's and a source this app does not serve)."""
    view, messages = parse_query(params)
    tab = parse_view(params, messages)
    if view.source not in FOLDERLESS_SOURCES:
        served = ", ".join(SOURCE_LABELS[name] for name in FOLDERLESS_SOURCES)
        messages.append(f"This app shows no {SOURCE_LABELS[view.source]} images (it has {served}): showing the "
                        "default photo.")  # fmt: skip
        view = replace(view, source=ViewState.source, image=ViewState.image)
    return view, tab, messages


def control_values(view: ViewState) -> dict[str, object]:
    """The controls' values (``LINKED``, by ``CONTROLS`` key) that show ``view``."""
    defaults = {name: control.default for name, control in CONTROLS.items()}
    attention = view.attention or default_attention(view.fixation)
    return {
        "source": view.source, "gallery": view.image if view.source == "gallery" else defaults["gallery"],
        "scene": int(view.image) if view.source == "synthetic" else defaults["scene"], "x": view.fixation[0],
        "y": view.fixation[1], "mode": view.mode, "ratio": view.ratio, "fill": view.fill, "seed": view.seed,
        "attention": view.attention is not None, "attention_x": attention[0], "attention_y": attention[1],
        "checkpoint": view.checkpoint,
    }  # fmt: skip


def warnings_markdown(messages: list[str]) -> str:
    """Messages about a link as Markdown warnings ("" for none)."""
    return "\n\n".join(f"⚠️ {message}" for message in messages)


def open_link(request: gr.Request) -> tuple:
    """The page's load: the controls (``LINKED``; unchanged where the link keeps the default, so that nothing
    renders twice), the tab to select, the tab's id and the link's problems, from the page's query."""
    view, tab, messages = linked_view(query_of(request))
    defaults = {name: control.default for name, control in CONTROLS.items()}
    values = control_values(view)
    controls = [gr.skip() if values[name] == defaults[name] else values[name] for name in LINKED]
    notes = warnings_markdown(messages)
    return (*controls, gr.Tabs(selected=tab), tab, notes)


UPLOAD_NOTE = "An uploaded image is not part of a link: a link opens these settings on the default photo."


def link_box() -> gr.Textbox:
    """Where the page shows the link to its view (a plain text box: cheap to update on every click)."""
    return gr.Textbox(label="The link to this view (the address bar follows it)", info=UPLOAD_NOTE, max_lines=1,
                      interactive=False, buttons=["copy"])  # fmt: skip


def link_value(values: Mapping[str, object]) -> str:
    """The link to the controls' view, as a query (``?src=...``), or "" for an upload (``UPLOAD_NOTE``)."""
    query = view_link(view_of(values, LABELS))
    return "" if query is None else f"?{query}"


def link_of(*inputs) -> str:
    """The listener after each render: ``link_value`` of the controls' values (in ``FIELDS`` order)."""
    return link_value(named(inputs))


LINK_READ = "focusmimLinkRead"  # the page's flag (on window): its load has read the link it was opened with
MARK_READ_JS = f"() => {{ window.{LINK_READ} = true; }}"  # runs after the load (``open_link``) has answered


def address_js(tab: str | None = None) -> str:
    """JavaScript putting a view's query (its one argument) in the address bar, with ``tab`` (None: the tab
    already there, if it is a view); the default tab goes without. It leaves the address alone until the page's
    load has read it: the load's request carries the address of the moment it is sent, and Gradio may select
    the first tab before that."""
    chosen = "here.searchParams.get(NAME)" if tab is None else json.dumps(tab)
    return f"""(query) => {{
        if (!window.{LINK_READ}) return;
        const NAME = {json.dumps(TAB_PARAMETER)}, VIEWS = {json.dumps(list(VIEWS))};
        const here = new URL(window.location.href);
        const tab = {chosen};
        const next = new URLSearchParams(query || "");  // "" (an upload): the tab alone
        if (VIEWS.includes(tab) && tab !== {json.dumps(DEFAULT_VIEW)}) next.set(NAME, tab);
        here.search = next.toString();
        window.history.replaceState(window.history.state, "", here);
    }}"""
