"""FocusMIM Explorer: the Streamlit entry point (navigation and the shared sidebar; layout only)."""

from pathlib import Path

import streamlit as st

from focusmim_core.runtime import configure_serving
from ui import state
from ui.sidebar import sidebar

FAVICON = Path(__file__).parent / "ui" / "favicon.png"  # an eye, served by the app itself (/media/...)

configure_serving()
# A file, not a ":material/..." name: Streamlit turns those into a favicon link to a Google fonts host.
st.set_page_config(page_title="FocusMIM Explorer", page_icon=str(FAVICON), layout="wide")

page = st.navigation(
    [
        st.Page("pages/explore.py", title="Explore", icon=":material/center_focus_strong:", default=True),
        st.Page("pages/compare.py", title="Compare modes", icon=":material/grid_view:", url_path="compare"),
        st.Page("pages/scanpath.py", title="Scanpath", icon=":material/timeline:", url_path="scanpath"),
        st.Page(
            "pages/checkpoints.py", title="Checkpoints and runs", icon=":material/monitoring:", url_path="checkpoints"
        ),
        st.Page("pages/latent_space.py", title="Latent space", icon=":material/hub:", url_path="latent"),
    ]
)
state.view()
sidebar()
page.run()
state.publish_view()
