"""FocusMIM Explorer: the Streamlit entry point (navigation and the shared sidebar; layout only)."""

from pathlib import Path

import streamlit as st

from focusmim_core.explorer.views import DEFAULT_VIEW, VIEWS, url_path
from focusmim_core.runtime import configure_serving
from ui import state
from ui.sidebar import sidebar

FAVICON = Path(__file__).parent / "ui" / "favicon.png"  # an eye, served by the app itself (/media/...)

configure_serving()
# A file, not a ":material/..." name: Streamlit turns those into a favicon link to a Google fonts host.
st.set_page_config(page_title="FocusMIM Explorer", page_icon=str(FAVICON), layout="wide")

page = st.navigation(
    [
        st.Page(view.page, title=view.title, icon=view.icon, url_path=url_path(name), default=name == DEFAULT_VIEW)
        for name, view in VIEWS.items()
    ]
)
state.view()
sidebar()
page.run()
state.publish_view()
