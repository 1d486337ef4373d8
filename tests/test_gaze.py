"""People's eye movements: fixation tables in the models' frame, their scores with pysaliency, train.gaze."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from focusmim_core.data.images import load_image, load_image_geometry
from focusmim_core.errors import InputError
from focusmim_core.explorer import recordings
from focusmim_core.gaze import MAP_NAMES, Masking, from_pysaliency, read_recording, scoring, to_pysaliency
from focusmim_core.gaze import recording as recording_module
from focusmim_core.gaze.scoring import CENTRE_BIAS, HUMAN, UNIFORM, baseline_models, fixation_scores, pysaliency
from focusmim_core.priority import reveal_gain, reveal_kernel
from train import gaze as gaze_cli

FIXTURES = Path(__file__).parent / "fixtures" / "scene_fixations"
TABLE, STIMULI = FIXTURES / "fixations.csv", FIXTURES / "stimuli"
HEADER = "image,observer,index,x,y,onset_ms,duration_ms\n"


def marked_photo(width: int, height: int, marker: tuple[int, int], orientation: int = 1) -> bytes:
    """A gray JPEG with a bright 9 x 9 square centred on ``marker`` (stored pixels) and an EXIF orientation."""
    pixels = np.full((height, width, 3), 60, dtype=np.uint8)
    x, y = marker
    pixels[y - 4 : y + 5, x - 4 : x + 5] = 255
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=95, exif=exif)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("width", "height", "marker", "orientation"),
    [
        (400, 266, (150, 100), 1),  # landscape, not decoded at a reduced scale
        (330, 403, (200, 250), 1),  # portrait
        (1000, 700, (600, 300), 1),  # a JPEG decoded at half scale
        (1000, 700, (600, 300), 6),  # ... and turned by its EXIF orientation
        (640, 480, (400, 150), 8),
        (640, 480, (300, 200), 3),
    ],
)
def test_fixation_lands_where_load_image_puts_its_pixel(width, height, marker, orientation):
    """A fixation on a marked pixel is mapped to where ``load_image`` shows that pixel in the 96 x 96 frame."""
    data = marked_photo(width, height, marker, orientation)
    frame, geometry = load_image_geometry(data)
    assert torch.equal(frame, load_image(data))
    fx, fy, inside = geometry.to_frame(np.array([marker[0] + 0.5]), np.array([marker[1] + 0.5]))
    brightness = frame.mean(dim=0)
    shown_y, shown_x = np.unravel_index(int(brightness.argmax()), brightness.shape)
    assert inside[0]
    assert abs(fx[0] - (shown_x + 0.5)) <= 1.0 and abs(fy[0] - (shown_y + 0.5)) <= 1.0


def test_shipped_non_square_photo_maps_its_crop_edges():
    """On a shipped 400 x 266 photo the kept square is columns 67 to 333 (excluded): its edges map to 0 and 96."""
    _, geometry = load_image_geometry(STIMULI / "205.jpg")
    xs, ys = np.array([67.0, 332.999, 200.0, 66.9, 333.0]), np.array([0.0, 265.99, 133.0, 5, 5])
    fx, fy, inside = geometry.to_frame(xs, ys)
    assert inside.tolist() == [True, True, True, False, False]
    assert fx[0] == pytest.approx(0.0) and fx[1] == pytest.approx(96.0, abs=0.01) and fy[2] == pytest.approx(48.0)


def test_fixation_outside_the_crop_is_dropped_and_counted(tmp_path):
    """A fixation in the cut-off side of a non-square photo is kept in the table as dropped, not clamped."""
    table = tmp_path / "f.csv"
    table.write_text(HEADER + "205.jpg,1,1,200,130,0,100\n205.jpg,1,2,20,130,200,100\n")
    recording = read_recording(table, STIMULI)
    assert (recording.kept, recording.dropped) == (1, 1)
    dropped = recording.fixations[1]
    assert not dropped.kept and dropped.frame_x < 0  # where it is, not clamped to the edge
    assert [len(p) for p in recording.scanpaths().values()] == [1]


def test_row_first_and_one_based_options(tmp_path):
    """Row-first, 1-based coordinates give the same fixations as the table in x, y from 0."""
    table = tmp_path / "f.csv"
    table.write_text("img\tsubj\tr\tc\n205.jpg\ts1\t131\t201\n")
    columns = recording_module.TableColumns("img", "subj", "r", "c", None, None, None, row_first=True, one_based=True)
    recording = read_recording(table.read_bytes(), STIMULI, columns)
    fixation = recording.fixations[0]
    assert (fixation.x, fixation.y) == (200, 130)


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("205.jpg,1,1,abc,10,0,100", "line 3, column `x`: `abc` is not a finite number"),
        ("205.jpg,1,1,nan,10,0,100", "line 3, column `x`: `nan` is not a finite number"),
        ("205.jpg,1,1,10,,0,100", "line 3, column `y`: the value is missing"),
        ("205.jpg,1", "line 3, column `x`: the value is missing"),
        ("999.jpg,1,1,10,10,0,100", "line 3, column `image`: no image `999.jpg` in the image folder"),
        ("205.jpg,1,1,400,10,0,100", "line 3, column `x`: 400 is outside the 400 x 266 photo"),
        ("205.jpg,1,1,10,-1,0,100", "line 3, column `y`: -1 is outside the 400 x 266 photo"),
        ("../fixations.csv,1,1,10,10,0,100", "no image `../fixations.csv` in the image folder"),
    ],
)
def test_bad_row_is_skipped_with_its_file_line_and_column(tmp_path, row, expected):
    """Each kind of bad row gets a message naming the file, line and column; the good rows are read."""
    table = tmp_path / "table.csv"
    table.write_text(HEADER + "205.jpg,1,1,200,130,0,100\n" + row + "\n")
    recording = read_recording(table, STIMULI)
    assert recording.skipped == 1 and len(recording.fixations) == 1
    assert recording.problems[0].startswith("`table.csv`, line 3") and expected in recording.problems[0]


def test_unreadable_tables_are_refused(tmp_path, monkeypatch):
    """A table without a required column, with no valid row, or over the row limit is refused with a message."""
    table = tmp_path / "t.csv"
    table.write_text("image,observer,x\n205.jpg,1,3\n")
    with pytest.raises(InputError, match="no column `y`"):
        read_recording(table, STIMULI)
    table.write_text(HEADER + "205.jpg,1,1,abc,10,0,100\n")
    with pytest.raises(InputError, match="no valid fixation"):
        read_recording(table, STIMULI)
    monkeypatch.setattr(recording_module, "MAX_ROWS", 2)
    table.write_text(HEADER + "205.jpg,1,1,20,10,0,100\n" * 4)
    with pytest.raises(InputError, match="more than 2 rows"):
        read_recording(table, STIMULI)


def test_pysaliency_dataset_imports_as_the_table_does():
    """A pysaliency ``FileStimuli`` + ``FixationTrains`` pair maps its fixations exactly as the table's rows."""
    table = read_recording(TABLE, STIMULI)
    names = table.names
    rows = [f for f in table.fixations if f.observer == "1"]
    trains = pysaliency.FixationTrains.from_fixation_trains(
        [np.array([f.x for f in rows if f.image == n]) for n in names],
        [np.array([f.y for f in rows if f.image == n]) for n in names],
        [np.arange(sum(f.image == n for f in rows), dtype=float) for n in names],
        list(range(len(names))),
        [1] * len(names),
    )
    imported = from_pysaliency(pysaliency.FileStimuli([str(STIMULI / n) for n in names]), trains, names)
    assert [(f.frame_x, f.frame_y, f.kept) for f in imported.fixations] == [
        (f.frame_x, f.frame_y, f.kept) for f in rows
    ]


@pytest.fixture(scope="module")
def baseline_scores():
    """The baselines' per-fixation scores on the shipped test photos (pysaliency)."""
    stimuli, fixations, _ = to_pysaliency(read_recording(TABLE, STIMULI))
    models, _ = baseline_models(stimuli, fixations)
    return fixation_scores(stimuli, fixations, models, models[CENTRE_BIAS])


def test_the_baselines_smoothing_is_chosen_on_fixations_it_was_not_fitted_on():
    """Cross-validation: the human map's blur is chosen leaving each observer out. Scored on the fixations it was
    made of, the sharpest blur would always win (each fixation predicts itself)."""
    stimuli, fixations, _ = to_pysaliency(read_recording(TABLE, STIMULI))
    _, chosen = scoring.gold_model(stimuli, fixations)
    own = pysaliency.baseline_utils.GoldModel
    _, leaky = scoring.best_smoothing(lambda s: own(stimuli, fixations, s.bandwidth, eps=s.uniform_share),
                                      stimuli, fixations)  # fmt: skip
    assert leaky.bandwidth == min(scoring.BANDWIDTHS) < chosen.bandwidth
    _, bias = scoring.centre_bias_model(stimuli, fixations)
    assert bias.bandwidth in scoring.BANDWIDTHS and bias.uniform_share in scoring.UNIFORM_SHARES


def test_uniform_auc_is_chance(baseline_scores):
    """The uniform map ranks no fixation above any pixel: AUC 0.5, NSS 0."""
    assert np.mean(baseline_scores[UNIFORM]["auc"]) == pytest.approx(0.5, abs=0.01)
    assert np.mean(baseline_scores[UNIFORM]["nss"]) == pytest.approx(0.0, abs=1e-9)


def test_other_observers_beat_centre_bias_which_beats_uniform(baseline_scores):
    """On this data, the other observers predict a fixation better than the other photos' centre bias, which
    predicts it better than chance."""
    auc = {name: np.mean(values["auc"]) for name, values in baseline_scores.items()}
    assert auc[HUMAN] > auc[CENTRE_BIAS] > auc[UNIFORM]
    assert np.mean(baseline_scores[HUMAN]["information_gain"]) > 0


def test_reveal_gain_sums_the_revealed_region():
    """Each pixel's gain is the sum of the hidden values a fixation there reveals (a direct convolution)."""
    generator = torch.Generator().manual_seed(0)
    values = torch.rand(2, 96, 96, generator=generator, dtype=torch.float64)
    hidden = (torch.rand(2, 96, 96, generator=generator) > 0.4).double()
    direct = torch.nn.functional.conv2d((values * hidden)[:, None], reveal_kernel(24).double()[None, None], padding=24)
    assert torch.allclose(reveal_gain(values, hidden, 24).double(), direct[:, 0], atol=1e-3)
    assert reveal_gain(values, torch.zeros_like(hidden), 24).eq(0).all()  # nothing hidden: exactly nothing


@pytest.mark.slow  # the network runs: a few seconds on a quiet CPU
def test_train_gaze_end_to_end(tmp_path):
    """``python -m train.gaze`` writes the fixations in the frame, per-photo scores and the summary."""
    lines = TABLE.read_text().splitlines()[1:]
    first_four = [line for line in lines if line.startswith("217.jpg,") and int(line.split(",")[2]) <= 4]
    rows = [line for line in first_four if line.split(",")[1] in ("1", "2", "3", "4")]  # kept small: CPU time
    outside = ["205.jpg,1,1,5,10,0,100", "205.jpg,2,1,395,100,0,100"]  # a photo none of whose fixations is kept
    table = tmp_path / "f.csv"
    table.write_text(HEADER + "\n".join([*rows, *outside]) + "\n")
    out = tmp_path / "out"
    assert gaze_cli.main(["--images", str(STIMULI), "--fixations", str(table), "--output", str(out)]) == 0
    written = (out / "fixations.csv").read_text().splitlines()
    assert written[0] == "image,observer,index,x,y,kept" and len(written) == len(rows) + len(outside) + 1
    assert [line.endswith(",0") for line in written[-2:]] == [True, True]
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) == {"images", "observers", "fixations_kept", "fixations_dropped", "policies", "smoothing"}
    assert summary["policies"]["centre_bias"]["auc"] > 0.55  # one photo: the centre bias of the bundled photos
    assert set(summary["smoothing"]) == {"centre_bias", "human"}
    assert set(summary["policies"]) == {"uniform", "centre_bias", "human", "oracle_error", "disagreement"}
    assert summary["fixations_kept"] + summary["fixations_dropped"] == len(rows) + 2
    assert summary["fixations_dropped"] > 2  # the two of 205.jpg and those of 217.jpg outside its square
    assert all(set(p) == {"auc", "nss", "information_gain"} for p in summary["policies"].values())
    scores = (out / "scores.csv").read_text().splitlines()
    assert len(scores) == 1 + 5 and scores[0].startswith("image,policy,fixations,auc,nss,information_gain")
    assert not any(line.startswith("205.jpg") for line in scores)  # nothing kept: no scores, no error


def test_a_recording_with_no_fixation_inside_the_frame_gets_a_message():
    """Every fixation outside the kept square: a message, before any network runs."""
    table = HEADER + "205.jpg,1,1,5,10,0,100\n205.jpg,2,1,395,100,0,100\n"
    outside = read_recording(table.encode(), STIMULI)
    assert outside.kept == 0 and outside.dropped == 2
    with pytest.raises(InputError, match="No fixation lies inside the frame"):
        scoring.score_recording(outside, None, Masking(), MAP_NAMES)
    assert recordings.recording_summary(outside)["images"] == {}
    assert "nothing to replay" in " ".join(recordings.recording_notes(recordings.recording_summary(outside)))


def test_train_gaze_refuses_a_missing_folder(tmp_path, capsys):
    """A folder that is not there is a message and exit status 2, no traceback."""
    assert gaze_cli.main(["--images", str(tmp_path / "none"), "--fixations", str(TABLE)]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_bundled_recording_is_listed_and_operator_folders_are_checked(tmp_path, monkeypatch):
    """The shipped recording is offered; an operator folder is added, one that is not a folder is noted."""
    operator = tmp_path / "lab"
    (operator / "stimuli").mkdir(parents=True)
    (operator / "stimuli" / "205.jpg").write_bytes((STIMULI / "205.jpg").read_bytes())
    (operator / "fixations.csv").write_text(HEADER + "205.jpg,7,1,200,130,0,100\n")
    monkeypatch.setenv(recordings.RECORDINGS_ENV, f"{operator}:{tmp_path / 'missing'}")
    assert [e.name for e in recordings.list_recordings()] == ["scene_fixations", "lab"]
    assert "is not a folder" in recordings.recording_folders()[1][0]
    lab = recordings.open_recording("lab")
    assert recordings.recording_summary(lab)["images"] == {"205.jpg": ["7"]}
    with pytest.raises(InputError, match="No recording `nope`"):
        recordings.open_recording("nope")
    with pytest.raises(InputError, match="observer `8`"):
        recordings.observer_path(lab, "205.jpg", "8")


@pytest.mark.slow  # the network runs: a few seconds on a quiet CPU
def test_replay_of_an_uploaded_recording(tmp_path):
    """An uploaded photo and table replay glimpse by glimpse: maps for each next fixation, the curves, JSON."""
    from focusmim_core.explorer.viewstate import ViewState

    table = HEADER + "205.jpg,a,1,200,130,0,100\n205.jpg,a,2,150,60,200,100\n205.jpg,a,3,300,200,400,100\n"
    recording = recordings.upload_recording(table.encode(), (STIMULI / "205.jpg").read_bytes(), "205.jpg")
    replayed = recordings.replay(recording, "205.jpg", "a", ViewState())
    assert len(replayed.glimpses) == 3 and replayed.next_fixations == [*replayed.path[1:], None]
    assert set(replayed.curves) == {"observer", "suggested", "random"}
    assert all(len(curve) == 3 for curve in replayed.curves.values())
    assert all(set(m) == {"oracle_error", "disagreement"} for m in replayed.maps)
    assert replayed.maps[0]["oracle_error"].shape == (96, 96)
    assert replayed.maps[0]["disagreement"].abs().sum() > 0  # the first glimpse changed the guesses
    json.dumps(replayed.to_json())
    with pytest.raises(InputError, match="larger than"):
        recordings.upload_recording(b"x" * (recordings.MAX_TABLE_BYTES + 1), b"", "205.jpg")
