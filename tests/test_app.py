"""The Streamlit app through ``streamlit.testing.v1.AppTest``: every page, widgets driving outputs, bad input.

Checkpoints come from a temporary folder (``FOCUSMIM_CHECKPOINTS``) and the shipped folder is
hidden, so these tests pass whether or not shipped checkpoints exist. The custom click
component cannot be clicked here: the fixation is set through its number inputs and
session state (the browser tests click it).

AppTest note: after a widget changes, AppTest only shows the page's own elements (not the
sidebar of ``app.py``), so sidebar choices are set through session state before a run.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
import torch
from conftest import shown
from streamlit.testing.v1 import AppTest

import focusmim_core.explorer.catalog as catalog
from focusmim_core import CheckpointMetadata, save_checkpoint
from focusmim_core.data import write_stl10_split
from focusmim_core.explorer.catalog import untrained_model
from focusmim_core.explorer.sources import ImageItem, synthetic_item
from focusmim_core.results import RANDOM_INIT_PROBE

APP = str(Path(__file__).resolve().parents[1] / "app.py")
TIMEOUT = 120


@pytest.fixture
def checkpoint_dir(tmp_path, monkeypatch):
    """Two demo checkpoints (periphery, random patches) in a temporary folder; the shipped folder hidden."""
    folder = tmp_path / "ckpts"
    for name, mode, ratio in [("periphery_0.8", "periphery", 0.8), ("random_patches_0.6", "random_patches", 0.6)]:
        metadata = CheckpointMetadata(mode=mode, ratio=ratio, data="synthetic", epochs=2, demo=True)
        save_checkpoint(folder / f"{name}.safetensors", untrained_model(seed=len(name)), metadata)
    monkeypatch.setattr(catalog, "SHIPPED_DIR", tmp_path / "no_shipped")
    monkeypatch.setenv("FOCUSMIM_CHECKPOINTS", str(folder))
    monkeypatch.setenv("FOCUSMIM_RUNS", str(tmp_path / "runs"))
    monkeypatch.delenv("FOCUSMIM_STL10", raising=False)
    threads = torch.get_num_threads()
    yield folder
    torch.set_num_threads(threads)  # the app sets one thread for the process


def app(page: str | None = None, **query: str) -> AppTest:
    """A fresh session on a procedural scene (no rembg needed), with ``query`` as URL parameters."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update({"src": "synthetic", "img": "3", **query})
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def status(at: AppTest) -> str:
    return next(shown(c.value) for c in at.caption if c.value.startswith("Showing "))


def texts(elements) -> str:
    return " ".join(shown(e.value) for e in elements)


# --- Explore ---------------------------------------------------------------------------------------------------
def test_explore_shows_panels_metrics_and_the_demo_notice(checkpoint_dir):
    at = app()
    assert status(at) == "Showing periphery at fixation (48, 48)."
    assert set(metrics(at)) == {"Masked MSE", "FG-weighted MSE", "PSNR of hidden region"}
    assert "Demo checkpoint" in texts(at.info) and "train.pretrain --dataset stl10" in texts(at.info)
    assert len(at.get("plotly_chart")) == 1 and len(at.image) >= 4  # both error maps in one figure
    error_maps = json.loads(at.get("plotly_chart")[0].proto.spec)["data"]
    assert len(error_maps) == 2 and all(t["z"]["shape"].replace(" ", "") == "96,96" for t in error_maps)
    assert len(at.get("download_button")) == 2


def test_the_seed_control_picks_the_patches_and_travels_in_the_link(checkpoint_dir):
    at = app(mode="random_patches", seed="5")
    assert at.number_input(key="w_seed").value == 5 and not at.number_input(key="w_seed").disabled
    assert "seed=5" in texts(at.caption)
    masked_input = at.image[0].proto.imgs[0].url
    at.number_input(key="w_seed").set_value(6).run()
    assert at.image[0].proto.imgs[0].url != masked_input and "seed=6" in texts(at.caption)
    at.number_input(key="w_seed").set_value(5).run()
    assert at.image[0].proto.imgs[0].url == masked_input  # same seed, same patches
    at.selectbox(key="w_mode").set_value("periphery").run()
    assert at.number_input(key="w_seed").disabled  # a periphery has no random part


def test_explore_shows_the_reconstruction_with_the_visible_pixels_pasted_back(checkpoint_dir):
    at = app()
    captions = [image.proto.imgs[0].caption for image in at.image]
    assert "Reconstruction" in captions and "Reconstruction with the visible pixels pasted back" in captions


def test_explore_compares_the_network_with_harmonic_inpainting_on_request(checkpoint_dir):
    at = app(mode="random_patches")
    captions = [image.proto.imgs[0].caption for image in at.image]
    assert "Harmonic inpainting (no learning)" not in captions  # off by default: no extra work per click
    at.toggle(key="w_harmonic").set_value(True).run()
    assert not at.exception, at.exception
    captions = [image.proto.imgs[0].caption for image in at.image]
    assert "Harmonic inpainting (no learning)" in captions
    line = next(c.value for c in at.caption if c.value.startswith("Harmonic inpainting:"))
    reference = float(re.search(r"([\d.]+) dB on the hidden region", line).group(1))
    difference = float(re.search(r"\*\*([+-][\d.]+) dB\*\*", line).group(1))
    network = float(metrics(at)["PSNR of hidden region"].split()[0])
    assert difference == pytest.approx(network - reference, abs=0.11)  # both rounded to 0.1 dB
    at.selectbox(key="w_mode").set_value("foveate").run()
    assert at.toggle(key="w_harmonic").disabled  # the foveal filter hides nothing to inpaint
    assert "Harmonic inpainting (no learning)" not in [image.proto.imgs[0].caption for image in at.image]


def test_fixation_inputs_move_the_view_and_change_the_metrics(checkpoint_dir):
    at = app()
    before = metrics(at)
    at.number_input(key="w_fx").set_value(15).run()
    at.number_input(key="w_fy").set_value(70).run()
    assert status(at) == "Showing periphery at fixation (15, 70)."
    assert metrics(at) != before
    assert "x=15&y=70" in texts(at.caption)


def test_fixation_set_through_session_state(checkpoint_dir):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update({"src": "synthetic", "img": "3"})
    at.session_state["w_fx"], at.session_state["w_fy"] = 80, 10
    at.run()
    assert status(at) == "Showing periphery at fixation (80, 10)."


def test_mode_ratio_and_fill_change_the_outputs(checkpoint_dir):
    at = app()
    hidden = next(c.value for c in at.caption if "hidden or degraded" in c.value)
    at.slider(key="w_ratio").set_value(0.5).run()
    assert next(c.value for c in at.caption if "hidden or degraded" in c.value) != hidden
    masked_input = at.image[0].proto.imgs[0].url
    at.radio(key="w_fill").set_value("blur").run()
    assert at.image[0].proto.imgs[0].url != masked_input  # the hidden pixels now show a blur
    at.selectbox(key="w_mode").set_value("random_patches").run()
    assert status(at).startswith("Showing random_patches")
    assert "random_patches_0.6" in texts(at.info)  # auto: the checkpoint trained for the mode
    at.selectbox(key="w_mode").set_value("foveate").run()
    assert at.slider(key="w_ratio").disabled and at.radio(key="w_fill").disabled


def test_covert_attention_reveals_a_second_region(checkpoint_dir):
    at = app()
    hidden = next(c.value for c in at.caption if "hidden or degraded" in c.value)
    at.toggle(key="w_attention").set_value(True).run()
    assert at.number_input(key="w_ax").value == 72
    assert next(c.value for c in at.caption if "hidden or degraded" in c.value) != hidden
    assert "ax=72" in texts(at.caption)


def test_a_link_reproduces_the_view(checkpoint_dir):
    at = app(x="12", y="34", mode="periphery_square", ratio="0.6", fill="blur")
    assert status(at) == "Showing periphery_square at fixation (12, 34)."
    assert at.slider(key="w_ratio").value == 0.6 and at.radio(key="w_fill").value == "blur"
    assert at.query_params["x"] == "12" and at.query_params["mode"] == "periphery_square"
    assert not at.warning  # nothing is wrong; that its checkpoint saw the centre alone is a caption
    assert "was trained with the eye at the centre (48, 48) only" in texts(at.caption)


def test_nonsense_links_give_messages_and_defaults(checkpoint_dir):
    at = app(x="999", y="-1", mode="telepathy", ratio="lots", fill="glitter", img="banana", ckpt="nope")
    warnings = texts(at.warning)
    for fragment in ["Ignored x=`999`", "Unknown masking mode `telepathy`", "Ignored ratio=`lots`", "Unknown fill",
                     "not a whole number", "`nope` was not found"]:
        assert fragment in warnings, fragment
    assert status(at) == "Showing periphery at fixation (48, 48)."


def test_link_messages_show_on_any_page(checkpoint_dir):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update({"src": "synthetic", "img": "3", "mode": "telepathy"})
    at.switch_page("pages/compare.py").run()  # opened as /compare?...
    assert not at.exception and "Unknown masking mode `telepathy`" in texts(at.warning)
    assert at.dataframe[0].value["masked MSE"].notna().all()


def test_uploaded_image_is_shown(checkpoint_dir):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    item = synthetic_item(9)
    at.session_state["upload_item"] = ImageItem(item.image, "upload: scene.png")
    at.session_state["w_source"] = "upload"
    at.run()
    assert not at.exception and "upload: scene.png" in texts(at.caption)


def test_upload_without_a_file_falls_back_with_a_message(checkpoint_dir):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["w_source"] = "upload"
    at.query_params.update({"src": "synthetic", "img": "3"})
    at.run()
    assert not at.exception and "No uploaded image" in texts(at.warning)


def test_bad_upload_shows_the_loaders_message(checkpoint_dir):
    from ui.sidebar import UPLOAD_ERROR, upload_item  # what the file uploader's callback calls

    class Upload(io.BytesIO):
        name = "notes.png"

    item, message = upload_item(Upload(b"this is not an image"))
    assert item is None and "`notes.png` is not an image" in message
    good, none = upload_item(Upload(png_bytes()))
    assert none is None and good.caption == "upload: notes.png" and good.image.shape == (3, 96, 96)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["w_source"] = "upload"
    at.session_state[UPLOAD_ERROR] = message
    at.run()
    assert not at.exception and "`notes.png` is not an image" in texts(at.sidebar.error)


def test_a_bad_upload_after_a_good_one_removes_the_old_image(checkpoint_dir):
    from focusmim_core.explorer.viewstate import ViewState
    from ui.sidebar import UPLOAD_ERROR, accept_upload
    from ui.state import UPLOAD, VIEW

    class Upload(io.BytesIO):
        def __init__(self, data: bytes, name: str):
            super().__init__(data)
            self.name = name

    session: dict = {}
    assert accept_upload(session, Upload(png_bytes(), "good.png")) and session[UPLOAD].caption == "upload: good.png"
    assert not accept_upload(session, Upload(b"junk", "bad.png"))
    assert UPLOAD not in session and "`bad.png` is not an image" in session[UPLOAD_ERROR]
    assert "uploaded before was removed" in session[UPLOAD_ERROR]
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)  # the page then says so and shows the default photo
    at.session_state[VIEW] = ViewState(source="upload", image="upload")  # the view the bad upload left
    at.run()
    assert not at.exception and "No uploaded image" in texts(at.warning)
    assert any("not part of a link" in c.value for c in at.caption)  # no link pretending to be a gallery view


def png_bytes() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 40), (10, 200, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_stl10_images_browse_by_class(checkpoint_dir, tmp_path, monkeypatch):
    images = torch.randint(0, 256, (5, 3, 96, 96), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    write_stl10_split(tmp_path / "stl" / "stl10_binary", "test", images, torch.tensor([1, 3, 3, 0, 3]))
    monkeypatch.setenv("FOCUSMIM_STL10", str(tmp_path / "stl"))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update({"src": "stl10", "split": "test", "img": "2"})
    at.run()
    assert not at.exception and "STL-10 test #2 (cat)" in texts(at.caption)
    assert at.sidebar.selectbox(key="w_class").options[1] == "airplane"


def test_missing_stl10_folder_offers_the_download_and_keeps_the_page(checkpoint_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("FOCUSMIM_STL10", str(tmp_path / "no_stl"))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update({"src": "stl10", "img": "0"})
    at.run()
    assert not at.exception
    assert "does not exist" in texts(at.sidebar.error)
    download = next(b for b in at.sidebar.button if "Download STL-10" in b.label)
    assert str(tmp_path / "no_stl") in download.label
    assert status(at).startswith("Showing periphery")  # the page still works, on the default photo


def test_a_failed_stl10_download_shows_its_message(checkpoint_dir, tmp_path, monkeypatch):
    import ui.sidebar
    from focusmim_core import DatasetError

    def offline(root):
        raise DatasetError(f"Could not download STL-10 into {root}: this machine may be offline.")

    monkeypatch.setattr(ui.sidebar, "download_stl10", offline)  # never start a real 2.6 GB download in tests
    monkeypatch.setenv("FOCUSMIM_STL10", str(tmp_path / "no_stl"))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update({"src": "stl10", "img": "0"})
    at.run()
    next(b for b in at.sidebar.button if "Download STL-10" in b.label).click().run()
    assert not at.exception
    assert "this machine may be offline" in at.session_state["stl10_download_message"]
    fresh = AppTest.from_file(APP, default_timeout=TIMEOUT)  # the sidebar shows it (AppTest drops the
    fresh.session_state["stl10_dir"] = str(tmp_path / "no_stl")  # sidebar after an interaction)
    fresh.session_state["stl10_download_message"] = at.session_state["stl10_download_message"]
    fresh.query_params.update({"src": "stl10", "img": "0"})
    fresh.run()
    assert "this machine may be offline" in texts(fresh.sidebar.error)


def test_a_visitor_cannot_point_the_stl10_folder_at_the_servers_filesystem(checkpoint_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("FOCUSMIM_STL10", str(tmp_path / "configured"))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["stl10_dir"] = "/etc"  # what a visitor would type, if there were a box
    at.query_params.update({"src": "stl10", "img": "0"})
    at.run()
    assert not at.exception and "/etc" not in texts(at.sidebar.error)
    choice = at.sidebar.selectbox(key="stl10_dir")
    assert choice.value == str(tmp_path / "configured") and "/etc" not in choice.options
    assert all(str(tmp_path / "configured") in b.label for b in at.sidebar.button if "Download" in b.label)
    assert not (tmp_path / "configured").exists()  # nothing created by looking


def test_a_broken_checkpoint_named_in_a_link_gives_its_reason_and_the_default(checkpoint_dir):
    (checkpoint_dir / "broken.safetensors").write_bytes(b"\x00" * 100)
    at = app(ckpt="ckpts/broken")
    assert "not a readable safetensors file" in texts(at.warning)
    assert "cannot be used" in texts(at.warning) and "using the default for periphery" in texts(at.warning)
    assert status(at).startswith("Showing periphery")


def test_checkpoint_of_another_architecture_gives_a_message(checkpoint_dir):
    from safetensors.torch import save_file

    save_file({"encoder.0.conv1.weight": torch.zeros(8, 3, 3, 3)}, str(checkpoint_dir / "other_net.safetensors"))
    at = app(ckpt="ckpts/other_net")
    assert "not a checkpoint of the CNN autoencoder" in texts(at.warning)
    assert status(at).startswith("Showing periphery")


def test_no_checkpoint_at_all_uses_a_labelled_untrained_network(checkpoint_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("FOCUSMIM_CHECKPOINTS", str(tmp_path / "empty"))
    at = app()
    assert "No checkpoint found" in texts(at.warning) and "untrained network" in texts(at.warning)
    assert status(at).startswith("Showing periphery")


def test_sessions_do_not_share_state(checkpoint_dir):
    first, second = app(), app()
    first.number_input(key="w_fx").set_value(5).run()
    second.run()
    assert status(first).endswith("(5, 48).") and status(second).endswith("(48, 48).")


# --- Compare ---------------------------------------------------------------------------------------------------
def test_compare_renders_every_mode_and_the_ratio_sweep(checkpoint_dir):
    at = app("pages/compare.py", x="30", y="30")
    table = at.dataframe[0].value
    assert list(table["mode"]) == ["Autoencoder (no mask)", "Random patches", "Masked periphery",
                                   "Masked periphery (square)", "Foveal filter"]
    assert table["masked MSE"].notna().all()
    assert len(at.image) >= 15  # input, reconstruction and error of five modes
    captions = texts(at.caption)  # fixated at (30, 30): the fixture's checkpoints were trained at the centre
    assert "ckpts/periphery_0.8 was trained with the eye at the centre (48, 48) only" in captions
    assert "No checkpoint was trained for foveate" in captions and not at.warning  # stand-ins are not problems
    sweep = json.loads(at.get("plotly_chart")[-1].proto.spec)
    assert len(sweep["data"]) == 5
    at.radio(key="w_sweep_metric").set_value("foreground_mse").run()
    assert not at.exception
    assert "foreground" in json.loads(at.get("plotly_chart")[-1].proto.spec)["layout"]["title"]["text"]


def test_compare_draws_random_patches_from_the_views_seed(checkpoint_dir):
    first = app("pages/compare.py", seed="3")
    assert "random patches from seed 3" in texts(first.caption)
    again, other = app("pages/compare.py", seed="3"), app("pages/compare.py", seed="4")
    patches = 3  # the second mode's input: random patches
    assert again.image[patches].proto.imgs[0].url == first.image[patches].proto.imgs[0].url
    assert other.image[patches].proto.imgs[0].url != first.image[patches].proto.imgs[0].url


# --- Scanpath --------------------------------------------------------------------------------------------------
def test_every_page_works_with_a_convnext_checkpoint(checkpoint_dir):
    from focusmim_core.architectures import build_model

    torch.manual_seed(0)
    metadata = CheckpointMetadata(
        mode="periphery_square", ratio=0.8, data="synthetic", epochs=1, arch="convnextv2_pico"
    )
    save_checkpoint(checkpoint_dir / "convnext_square.safetensors", build_model("convnextv2_pico"), metadata)
    at = app(mode="periphery_square", ratio="0.8", ckpt="ckpts/convnext_square")
    assert "convnextv2_pico" in texts(at.caption) + texts(at.markdown) + texts(at.info)
    for page in ("pages/compare.py", "pages/scanpath.py", "pages/latent_space.py", "pages/checkpoints.py"):
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
    listed = at.dataframe[0].value.set_index("checkpoint")
    assert "convnextv2_pico" in listed.loc["ckpts/convnext_square"].to_string()


def test_a_latent_objective_checkpoint_shows_its_cosine_map_and_every_page_works(checkpoint_dir):
    from focusmim_core.objectives import OBJECTIVES

    torch.manual_seed(0)
    metadata = CheckpointMetadata(mode="periphery", ratio=0.8, data="synthetic", epochs=1, objective="latent")
    model = OBJECTIVES["latent"].wrap(untrained_model())
    save_checkpoint(checkpoint_dir / "latent_periphery.safetensors", model, metadata)
    at = app(mode="periphery", ratio="0.8", ckpt="ckpts/latent_periphery")
    assert "Latent cosine (hidden cells)" in [m.label for m in at.metric]
    assert "Reconstruction" not in [i.proto.imgs[0].caption for i in at.image]
    chart = json.loads(at.get("plotly_chart")[-1].proto.spec)
    assert "Predicted vs target latent (cosine)" in json.dumps(chart["layout"]["annotations"])
    assert "latent objective (Latent MIM)" in texts(at.caption)
    for page in ("pages/compare.py", "pages/scanpath.py", "pages/latent_space.py", "pages/checkpoints.py"):
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)


def test_scanpath_glimpses_suggestion_undo_and_clear(checkpoint_dir):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update({"src": "synthetic", "img": "3"})
    at.session_state["scanpath"] = [(20, 20), (60, 30)]  # two clicks on the image
    at.session_state["scanpath_image"] = "synthetic:3"
    at.run()
    at.switch_page("pages/scanpath.py").run()
    assert not at.exception
    assert "after 2" in texts(at.markdown)
    assert "ckpts/periphery_0.8 was trained with the eye at the centre" in texts(at.caption)
    suggestion = next(c.value for c in at.caption if c.value.startswith("Suggested next fixation"))
    at.button[0].click().run()  # look where suggested
    assert len(at.session_state["scanpath"]) == 3
    x, y = (int(v) for v in re.findall(r"\d+", suggestion)[:2])
    assert at.session_state["scanpath"][-1] == (x, y)
    chart = json.loads(at.get("plotly_chart")[-1].proto.spec)
    assert [t["name"] for t in chart["data"]] == ["your scanpath", "suggested (model's own error)", "random"]
    assert all(len(t["y"]) == 3 for t in chart["data"])
    at.button[1].click().run()  # undo
    assert len(at.session_state["scanpath"]) == 2
    at.button[2].click().run()  # clear
    assert at.session_state["scanpath"] == [] and "Click on the image" in texts(at.info)
    assert at.button[0].disabled and at.button[1].disabled  # nothing to suggest from, nothing to undo


def test_a_ratio_outside_the_scanpath_slider_from_a_link_or_explore_is_fitted_into_it(checkpoint_dir):
    """Explore's ratio runs 0..1, the Scanpath slider 0.5..0.99: a value outside it is clamped, not a traceback."""
    at = app(ratio="1")  # a link's ratio that Explore accepts
    at.switch_page("pages/scanpath.py").run()
    assert not at.exception, at.exception
    assert at.slider(key="w_scan_ratio").value == pytest.approx(0.99)
    at = app()
    at.slider(key="w_ratio").set_value(0.3).run()  # Explore's ratio moved low, then Scanpath opened
    at.switch_page("pages/scanpath.py").run()
    assert not at.exception, at.exception
    assert at.slider(key="w_scan_ratio").value == pytest.approx(0.5)
    assert "Click on the image to place the first fixation" in texts(at.info)


def test_fitted_clamps_into_a_span_and_maps_into_options():
    from ui.widgets import fitted

    assert fitted(1.0, span=(0.5, 0.99)) == 0.99 and fitted(0.3, span=(0.5, 0.99)) == 0.5
    assert fitted(150, span=(0, 95)) == 95 and fitted(12.7, span=(0, 95)) == 13
    assert fitted(float("nan"), span=(0, 95)) == 0 and fitted("lots", span=(0.0, 1.0)) == 0.0
    assert fitted("zoom", options=("a", "b")) == "a" and fitted("b", options=("a", "b")) == "b"


def test_widget_values_outside_their_range_are_fitted_not_a_traceback(checkpoint_dir):
    """Whatever a session holds for a bound widget (here set directly) is fitted into the widget's own range."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update({"src": "synthetic", "img": "3"})
    at.session_state["w_ratio"], at.session_state["w_fx"], at.session_state["w_seed"] = 1.5, 150, -5
    at.session_state["w_synthetic"] = 10**6
    at.run()
    assert not at.exception, at.exception
    assert at.slider(key="w_ratio").value == 1.0 and at.number_input(key="w_seed").value == 0
    assert at.number_input(key="w_fx").value == 95 and status(at) == "Showing periphery at fixation (95, 48)."
    assert at.sidebar.number_input(key="w_synthetic").value == 9999


def test_look_where_suggested_is_disabled_when_nothing_is_left_to_reveal(checkpoint_dir):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update({"src": "synthetic", "img": "3"})
    at.session_state["scanpath"] = [(x, y) for x in (16, 48, 80) for y in (16, 48, 80)][:9]  # covers the scene
    at.session_state["scanpath_image"] = "synthetic:3"
    at.session_state["w_scan_ratio"] = 0.6
    at.run()
    at.switch_page("pages/scanpath.py").run()
    assert not at.exception
    assert at.button[0].label == "Look where suggested" and at.button[0].disabled
    chart = json.loads(at.get("plotly_chart")[-1].proto.spec)
    suggested = next(t for t in chart["data"] if t["name"].startswith("suggested"))
    assert len(suggested["y"]) == 9 and suggested["y"][-1] is not None


# --- Checkpoints and runs --------------------------------------------------------------------------------------
def test_checkpoints_page_lists_checkpoints_curves_and_probe_vs_paper(checkpoint_dir, tmp_path):
    run = tmp_path / "runs" / "periphery_demo"
    run.mkdir(parents=True)
    records = [{"epoch": e, "loss": 0.1 / (e + 1), "masked_mse": 0.1, "foreground_mse": None} for e in range(3)]
    (run / "metrics.jsonl").write_text("\n".join(map(json.dumps, records)) + "\n{broken")
    sidecar = checkpoint_dir / "periphery_0.8.json"
    values = json.loads(sidecar.read_text())
    values["metrics"] = {"probe": {"accuracy_mean": 0.42, "accuracy_std": 0.01, "dataset": "synthetic"}}
    sidecar.write_text(json.dumps(values))
    at = app("pages/checkpoints.py")
    assert "random-init encoder" not in texts(at.caption)  # no baseline recorded
    shipped = tmp_path / "no_shipped"
    shipped.mkdir()
    (shipped / RANDOM_INIT_PROBE).write_text(json.dumps({"accuracy_mean": 0.213, "knn_accuracy": 0.2}))
    at = app("pages/checkpoints.py")
    assert "a random-init encoder reaches 21.3 % (k-NN 20.0 %)" in texts(at.caption)
    listed = at.dataframe[0].value
    assert set(listed["checkpoint"]) == {"ckpts/periphery_0.8", "ckpts/random_patches_0.6"}
    assert "demo" in texts(at.info)
    curves = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert curves["data"][0]["name"] == "periphery_demo" and len(curves["data"][0]["y"]) == 3
    assert "skipped" in texts(at.warning)
    probe = at.dataframe[1].value.set_index("checkpoint")
    assert probe.loc["ckpts/periphery_0.8", "ours: accuracy %"] == pytest.approx(42.0)
    assert probe.loc["ckpts/periphery_0.8", "paper: accuracy % (STL-10)"] == 68.0
    at.selectbox(key="w_run_metric").set_value("foreground_mse").run()
    assert "No foreground_mse logged" in texts(at.caption)


def test_checkpoints_page_shows_a_sweep_folder_like_the_report(checkpoint_dir, tmp_path):
    sweep = tmp_path / "runs" / "sweeps" / "fig4"
    sweep.mkdir(parents=True)
    (sweep / "sweep.json").write_text(json.dumps({"grid": "fig4", "conditions": ["periphery_0.8", "raw_pixels"],
                                                  "seeds": [0, 1]}))  # fmt: skip
    lines = [
        {"cell": f"periphery_0.8-s{seed}", "condition": "periphery_0.8", "label": "masked periphery 0.8",
         "paper_entry": "masked periphery", "accuracy_mean": value}
        for seed, value in ((0, 0.6), (1, 0.64))
    ]  # fmt: skip
    (sweep / "results.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    broken = tmp_path / "runs" / "sweeps" / "broken"
    broken.mkdir()
    (broken / "sweep.json").write_text("{not json")
    at = app("pages/checkpoints.py")
    assert "cannot be read" in texts(at.warning)  # the broken folder sorts first: a message, the page goes on
    at.selectbox(key="w_grid_folder").set_value(sweep).run()
    assert "2 of 4 cells finished" in texts(at.caption)
    table = next(frame.value for frame in at.dataframe if "condition" in frame.value).set_index("condition")
    assert table.loc["masked periphery 0.8", "probe % (mean)"] == pytest.approx(62.0)
    assert table.loc["masked periphery 0.8", "paper %"] == 68.0 and table.loc["masked periphery 0.8", "seeds"] == 2
    charts = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    chart = next(c for c in charts if "per condition" in c["layout"]["title"]["text"])
    assert chart["data"][0]["error_y"]["array"] == pytest.approx([2.8284271])
    assert not at.exception


def test_checkpoints_page_skips_log_and_result_lines_nested_thousands_deep_and_says_so(checkpoint_dir, tmp_path):
    run = tmp_path / "runs" / "deep_run"
    run.mkdir(parents=True)
    (run / "metrics.jsonl").write_text('{"epoch": 0, "loss": 0.1}\n' + "[" * 100_000 + '\n{"epoch": "one"}\n')
    grid = tmp_path / "runs" / "grids" / "fig4"
    grid.mkdir(parents=True)
    (grid / "sweep.json").write_text(json.dumps({"grid": "fig4", "conditions": ["periphery_0.8"], "seeds": [0]}))
    (grid / "results.jsonl").write_text("[" * 100_000 + "\n")
    shipped = tmp_path / "no_shipped"
    shipped.mkdir()
    (shipped / RANDOM_INIT_PROBE).write_text('{"accuracy_mean": ' + "[" * 100_000)
    at = app("pages/checkpoints.py")
    warnings = texts(at.warning)
    assert "deep_run: 2, the first at line 2: it nests lists and objects deeper than" in warnings
    assert "lines of results.jsonl were skipped: 1, the first at line 1: it nests" in warnings
    assert f"{RANDOM_INIT_PROBE} is not a probe result" in warnings
    assert "0 of 1 cells finished" in texts(at.caption)


def test_the_held_out_quality_shows_in_the_demo_notice_and_on_the_checkpoints_page(checkpoint_dir):
    from ui import state

    sidecar = checkpoint_dir / "periphery_0.8.json"
    values = json.loads(sidecar.read_text())
    report = {"psnr_hidden": 13.9, "psnr_input_hidden": 11.8, "gain": 2.1, "psnr_visible": 23.0, "psnr_whole": 15.2}
    values["metrics"] = {"gallery": {**report, "views": 40}}
    values["extra"] = {"images_seen": 204800}
    sidecar.write_text(json.dumps(values))
    at = app()
    assert "+2.1 dB over its input on held-out photos" in texts(at.info)
    page = app("pages/checkpoints.py")
    table = page.dataframe[0].value
    row = table[table["checkpoint"].str.endswith("periphery_0.8")].iloc[0]
    assert row["gain over its input (dB)"] == 2.1 and row["images seen"] == 204800
    assert not any("quality over training" in h.value for h in page.subheader)  # no history: no curve
    values["extra"]["history"] = [
        {"images": 4096, "after_psnr_hidden": 11.3},
        {"images": 200704, "after_psnr_hidden": 13.9},
    ]
    sidecar.write_text(json.dumps(values))
    state._checkpoints.clear()  # the listing is cached for 10 s across sessions
    page = app("pages/checkpoints.py")
    curve = json.loads(page.get("plotly_chart")[0].proto.spec)["data"][0]
    assert curve["name"].endswith("periphery_0.8") and curve["y"] == [11.3, 13.9] and curve["x"] == [4096, 204800]


def test_broken_checkpoint_files_are_listed_apart_and_never_chosen(checkpoint_dir):
    (checkpoint_dir / "zz_broken.safetensors").write_bytes(b"\x00" * 64)
    (checkpoint_dir / "zz_broken.json").write_text('{"mode": "periphery", "epochs": "lots"}')
    at = app("pages/checkpoints.py")
    assert not at.exception and "could not be read" in texts(at.warning)
    listed = at.dataframe[0].value
    assert not listed["checkpoint"].str.contains("zz_broken").any()  # not among the readable checkpoints
    problems = at.dataframe[1].value
    assert list(problems["file"]) == ["zz_broken.safetensors"] and "'epochs' must be int" in problems["problem"][0]
    explore = app()
    assert "zz_broken" not in texts(explore.info)  # auto kept the real periphery checkpoint


def test_a_checkpoint_folder_that_disappears_or_a_file_replaced_while_the_app_runs(checkpoint_dir):
    at = app()
    before = at.image[1].proto.imgs[0].url  # the reconstruction
    target = checkpoint_dir / "periphery_0.8.safetensors"
    metadata = CheckpointMetadata(mode="periphery", ratio=0.8, data="synthetic", epochs=3, demo=True)
    save_checkpoint(target, untrained_model(seed=99), metadata)  # replaced on disk with other weights
    at.number_input(key="w_fx").set_value(48).run()
    assert not at.exception and at.image[1].proto.imgs[0].url != before  # the new weights are used
    for path in checkpoint_dir.iterdir():
        path.unlink()
    checkpoint_dir.rmdir()  # the whole folder vanishes while a session is open
    at.number_input(key="w_fx").set_value(40).run()
    assert not at.exception and status(at) == "Showing periphery at fixation (40, 48)."
    assert "untrained" in (texts(at.warning) + texts(at.info) + texts(at.caption)).lower()


def test_checkpoints_page_without_checkpoints_or_runs(checkpoint_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("FOCUSMIM_CHECKPOINTS", str(tmp_path / "empty"))
    at = app("pages/checkpoints.py")
    assert "No checkpoints in" in texts(at.warning) and "No training runs found" in texts(at.info)


# --- Latent space ----------------------------------------------------------------------------------------------
def test_latent_page_statistics_correlations_and_segmentation(checkpoint_dir):
    at = app("pages/latent_space.py")
    assert len(at.dataframe[0].value) == 1
    charts = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    assert len(charts) == 3  # channel grid, t-SNE of the cells, correlations
    tsne = next(c for c in charts if "t-SNE" in c["layout"]["title"]["text"])
    assert len(tsne["data"][0]["text"]) == 144 and "4-cluster cut" in tsne["layout"]["title"]["text"]
    overlays = [image.proto.imgs[0].url for image in at.image[-3:]]
    assert [image.proto.imgs[0].caption for image in at.image[-3:]] == ["3 clusters", "4 clusters", "5 clusters"]
    at.session_state["tsne_1_ckpts/periphery_0.8"] = {"selection": {"points": [{"point_index": 13, "curve_number": 0}]}}
    at.run()  # a point clicked in the t-SNE: its cell (row 1, column 1) is outlined in every overlay
    assert not at.exception and all(
        after.proto.imgs[0].url != before for after, before in zip(at.image[-3:], overlays, strict=True)
    )
    at.session_state["tsne_1_ckpts/periphery_0.8"] = {"selection": {"points": []}}
    at.radio(key="w_tsne_cut").set_value(5).run()
    titles = [json.loads(chart.proto.spec)["layout"]["title"]["text"] for chart in at.get("plotly_chart")]
    assert not at.exception and any("5-cluster cut" in title for title in titles)
    at.selectbox(key="w_latent_other").set_value("ckpts/random_patches_0.6").run()
    assert not at.exception
    assert len(at.image) >= 6 and len(at.get("plotly_chart")) == 4  # two checkpoints side by side
    assert "**ckpts/random_patches_0.6**" in [m.value for m in at.markdown]
    assert [image.proto.imgs[0].url for image in at.image[-6:-3]] == overlays  # the first column is unchanged
    at.toggle(key="w_all_checkpoints").set_value(True).run()
    rows = at.dataframe[0].value
    assert list(rows["checkpoint"]) == ["ckpts/periphery_0.8", "ckpts/random_patches_0.6"]
    assert (rows["decorrelation"] >= 0).all()


def test_the_batch_is_chosen_by_its_id_and_shown_by_its_label(checkpoint_dir):
    at = app("pages/latent_space.py")
    choice = at.selectbox(key="w_batch_source")
    assert choice.value == "synthetic" and choice.options == ["gallery photos (8)", "procedural scenes (128)",
                                                              "STL-10 (first 256 of the split)"]  # fmt: skip
    assert at.dataframe[0].value["images"][0] == 128
    choice.set_value("gallery").run()
    assert not at.exception and at.dataframe[0].value["images"][0] == 8


def test_the_pages_find_foregrounds_with_the_services_one_rembg_session(monkeypatch):
    """One rembg session and one foreground cache per process, shared by both front-ends."""
    import numpy as np

    from focusmim_core.explorer import service
    from ui import state

    class Segmenter:
        def predict(self, pixels):
            return np.full(pixels.shape[:3], 255, np.uint8)

    loaded = []
    monkeypatch.setattr(service, "foreground_model", lambda name: loaded.append(name) or Segmenter())
    service._segmenter.cache_clear()
    service._cached_foreground.cache_clear()
    try:
        pixels = np.full((96, 96, 3), 7, np.uint8)
        found = state.find_foreground(pixels)
        assert loaded == ["u2netp"] and (found == 1).all()
        assert service.rembg_foreground(pixels) is found and loaded == ["u2netp"]  # computed once, for both
    finally:
        service._segmenter.cache_clear()
        service._cached_foreground.cache_clear()
