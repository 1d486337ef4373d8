"""The explorer's five views, declared once: their ids (Streamlit's page paths, the Gradio app's tab ids and its
links' ``tab`` parameter), titles and icons.

Plain data (no UI framework): ``app.py`` builds its pages from ``VIEWS`` and the Gradio app its tabs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..errors import echo
from .viewstate import first_value


@dataclass(frozen=True)
class View:
    """One view of the explorer: its title, its Material icon (Streamlit) and its Streamlit page file."""

    title: str
    icon: str
    page: str


VIEWS: dict[str, View] = {  # id -> view; the first is the default (Streamlit's page without a path)
    "explore": View("Explore", ":material/center_focus_strong:", "pages/explore.py"),
    "compare": View("Compare modes", ":material/grid_view:", "pages/compare.py"),
    "scanpath": View("Scanpath", ":material/timeline:", "pages/scanpath.py"),
    "checkpoints": View("Checkpoints and runs", ":material/monitoring:", "pages/checkpoints.py"),
    "latent": View("Latent space", ":material/hub:", "pages/latent_space.py"),
}
DEFAULT_VIEW = next(iter(VIEWS))
TAB_PARAMETER = "tab"  # a Gradio link's view (Streamlit's links carry it as the page path)


def url_path(view: str) -> str | None:
    """A view's Streamlit page path (None: the default view, the app's root)."""
    return None if view == DEFAULT_VIEW else view


def parse_view(params: Mapping[str, str | Sequence[str]], messages: list[str]) -> str:
    """The view a link's ``tab`` parameter names (missing: ``DEFAULT_VIEW``); an unknown one is reported in
    ``messages`` and replaced by the default, as ``viewstate.parse_query`` treats its values."""
    value = first_value(params.get(TAB_PARAMETER))
    if value is None or value in VIEWS:
        return value or DEFAULT_VIEW
    messages.append(f"Unknown view {echo(value)} in the link: use one of {', '.join(VIEWS)}.")
    return DEFAULT_VIEW
