"""The Scanpath page's people's recordings through ``streamlit.testing.v1.AppTest``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import shown
from streamlit.testing.v1 import AppTest

from focusmim_core.explorer import recordings

APP = str(Path(__file__).resolve().parents[1] / "app.py")
TIMEOUT = 120
STIMULI = Path(__file__).parent / "fixtures" / "scene_fixations" / "stimuli"


@pytest.mark.slow  # the app starts and the network runs
def test_recorded_scanpath_replays_glimpse_by_glimpse(tmp_path, monkeypatch):
    """An operator's recording: choose it and an observer, see the glimpse, the maps and the three curves."""
    folder = tmp_path / "lab"
    (folder / "stimuli").mkdir(parents=True)
    (folder / "stimuli" / "205.jpg").write_bytes((STIMULI / "205.jpg").read_bytes())
    (folder / "fixations.csv").write_text(
        "image,observer,index,x,y\n205.jpg,a,1,200,130\n205.jpg,a,2,150,60\n205.jpg,a,3,300,200\n"
    )
    monkeypatch.setenv(recordings.RECORDINGS_ENV, str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.switch_page("pages/scanpath.py").run()
    at.radio(key="scanpath_source").set_value("recordings").run()
    at.selectbox(key="recording_choice").set_value("lab").run()
    assert not at.exception, at.exception
    assert at.selectbox(key="recording_observer").value == "a"
    captions = " ".join(shown(c.value) for c in at.caption)
    assert "The observer's last fixation" in captions  # the slider starts at the last glimpse
    at.slider(key="recording_glimpse").set_value(1).run()
    assert "where the observer looked next" in " ".join(shown(c.value) for c in at.caption)
    chart = json.loads(at.get("plotly_chart")[-1].proto.spec)
    assert [t["name"] for t in chart["data"]] == ["observer", "suggested", "random"]
    assert all(len(t["y"]) == 3 for t in chart["data"])
