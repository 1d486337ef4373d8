"""Scoring priority maps against people's fixations with the field's own libraries.

Every policy is a pysaliency model over the 96 x 96 frames: ``uniform`` (``UniformModel``), ``centre_bias``
(``CrossvalidatedBaselineModel``: the other photos' fixations, blurred; leave one photo out), ``human`` (for
each observer, ``GoldModel`` of the other observers' fixations on the same photo, blurred; leave one observer
out) and one ``MapModel`` per model map (scanpath-conditional: fixation k's map given fixations 1..k-1).
pysaliency computes AUC (Judd: every pixel a non-fixation), NSS and the information gain over the centre bias,
per fixation; MultiMatch (``multimatch_gaze``) compares whole scanpaths.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from ..errors import InputError
from ..geometry import IMAGE_SIZE
from .maps import History, Masking, frame_pixel, greedy_paths, photo_maps
from .recording import Recording, bundled_recording, to_pysaliency

UNIFORM_SHARE = 0.05  # of a model map's density: uniform, so that no pixel has probability 0
# the centre bias's and the human map's smoothing, chosen per recording by cross-validation among these
BANDWIDTHS = (0.02, 0.035, 0.05, 0.07, 0.1, 0.14)  # the Gaussian's sigma, as a fraction of the frame's side
UNIFORM_SHARES = (0.01, 0.05, 0.2)
UNIFORM, CENTRE_BIAS, HUMAN = "uniform", "centre_bias", "human"
BASELINES = (UNIFORM, CENTRE_BIAS, HUMAN)
METRICS = ("auc", "nss", "information_gain")
MULTIMATCH_DIMENSIONS = ("vector", "direction", "length", "position")  # the model's paths have no durations
MULTIMATCH_MINIMUM = 3  # fixations a scanpath needs for MultiMatch


def pysaliency_module():  # pysaliency has no type hints
    """pysaliency, imported without its ``pkg_resources`` deprecation warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pkg_resources
        warnings.simplefilter("ignore", DeprecationWarning)  # scipy.ndimage.filters
        import pysaliency
        import pysaliency.baseline_utils
    return pysaliency


pysaliency = pysaliency_module()


def density(saliency: np.ndarray) -> np.ndarray:
    """A non-negative map ``(H, W)`` as a log density: the map normalised, mixed with ``UNIFORM_SHARE`` of the
    uniform density (all uniform for a map that is zero everywhere)."""
    total = float(saliency.sum())
    uniform = np.full(saliency.shape, 1.0 / saliency.size)
    mixed = uniform if total <= 0 else (1 - UNIFORM_SHARE) * saliency / total + UNIFORM_SHARE * uniform
    return np.log(mixed)


def history_points(x_hist: np.ndarray, y_hist: np.ndarray) -> History:
    """The frame pixels of the fixations before one (pysaliency's histories, NaN-padded)."""
    keep = ~np.isnan(x_hist)
    return tuple(frame_pixel(x, y, IMAGE_SIZE) for x, y in zip(x_hist[keep], y_hist[keep], strict=True))


def history_key(stimulus: object, x_hist: np.ndarray, y_hist: np.ndarray) -> tuple[str, History]:
    """The key of a fixation's map: its stimulus and the frame pixels of the fixations before it."""
    return pysaliency.datasets.as_stimulus(stimulus).stimulus_id, history_points(np.asarray(x_hist), np.asarray(y_hist))


class MapModel(pysaliency.ScanpathModel, pysaliency.ScanpathSaliencyMapModel):
    """Precomputed model maps as a pysaliency scanpath-conditional model: the map of (stimulus, history) is its
    saliency map, and ``density`` of it its conditional log density."""

    def __init__(self, maps: Mapping[tuple[str, History], np.ndarray]):
        super().__init__()
        self.maps = maps

    def conditional_saliency_map(self, stimulus, x_hist, y_hist, t_hist, attributes=None, out=None):
        """The map of this stimulus after these fixations."""
        return self.maps[history_key(stimulus, x_hist, y_hist)]

    def conditional_log_density(self, stimulus, x_hist, y_hist, t_hist, attributes=None, out=None):
        """The map's log density (``density``)."""
        return density(self.conditional_saliency_map(stimulus, x_hist, y_hist, t_hist))


class DensityMap(pysaliency.ScanpathSaliencyMapModel):
    """A pysaliency probabilistic model's conditional density as its saliency map (pysaliency's way to take AUC
    and NSS of a probabilistic model)."""

    def __init__(self, model: object):
        self.model = model

    def conditional_saliency_map(self, stimulus, x_hist, y_hist, t_hist, attributes=None, out=None):
        """The density the model gives this fixation (a constant density as zeros: exp would add rounding noise,
        which NSS would divide by its tiny spread)."""
        log_density = self.model.conditional_log_density(stimulus, x_hist, y_hist, t_hist, attributes=attributes)
        return np.zeros_like(log_density) if np.ptp(log_density) == 0 else np.exp(log_density)


@dataclass(frozen=True)
class Smoothing:
    """How a density is made of fixations: blurred by a Gaussian of sigma ``bandwidth`` (a fraction of the frame's
    side), then mixed with ``uniform_share`` of the uniform density."""

    bandwidth: float
    uniform_share: float


def best_smoothing(
    build: Callable[[Smoothing], object], stimuli: object, fixations: object
) -> tuple[object, Smoothing]:
    """The model ``build`` makes with the smoothing (of ``BANDWIDTHS`` x ``UNIFORM_SHARES``) under which
    ``fixations`` are most likely, and that smoothing. ``build``'s models score each fixation with a density
    fitted without it (leave one photo or one observer out), so this is a cross-validation, as the field fits
    its baselines."""
    best, best_likelihood, chosen = None, -np.inf, None
    for smoothing in (Smoothing(b, u) for b in BANDWIDTHS for u in UNIFORM_SHARES):
        model = build(smoothing)
        likelihood = float(np.mean(model.log_likelihoods(stimuli, fixations, verbose=False)))
        if likelihood > best_likelihood:
            best, best_likelihood, chosen = model, likelihood, smoothing
    return best, chosen


def centre_bias_model(stimuli: object, fixations: object) -> tuple[object, Smoothing]:
    """The centre bias of each photo: the other photos' fixations, smoothed as cross-validation prefers."""
    bias = pysaliency.baseline_utils.CrossvalidatedBaselineModel
    return best_smoothing(lambda s: bias(stimuli, fixations, s.bandwidth, eps=s.uniform_share), stimuli, fixations)


def fitted_centre_bias(others: Recording, leave_out: Sequence[str]) -> tuple[object, Smoothing]:
    """A centre bias fitted on the fixations of ``others``' photos, the photos named ``leave_out`` left out (their
    own fixations would leak into their baseline), smoothed as cross-validation on those photos prefers."""
    stimuli, fixations, _ = to_pysaliency(others)
    for name in leave_out:
        if name in others.names:
            fixations = fixations[fixations.n != others.names.index(name)]
    smoothing = centre_bias_model(stimuli, fixations)[1]
    bias = pysaliency.baseline_utils.BaselineModel
    return bias(stimuli, fixations, smoothing.bandwidth, eps=smoothing.uniform_share), smoothing


def gold_model(stimuli: object, fixations: object) -> tuple[object, Smoothing]:
    """The human gold standard: for each observer, the other observers' fixations on the same photo, smoothed as
    cross-validation (leave one observer out) prefers."""

    def build(smoothing: Smoothing) -> object:
        return pysaliency.SubjectDependentModel({
            int(s): pysaliency.baseline_utils.GoldModel(stimuli, fixations[fixations.subjects != s],
                                                         smoothing.bandwidth, eps=smoothing.uniform_share)
            for s in np.unique(fixations.subjects)
        })  # fmt: skip

    return best_smoothing(build, stimuli, fixations)


def baseline_models(
    stimuli: object, fixations: object, centre_bias: tuple[object, Smoothing] | None = None
) -> tuple[dict[str, object], dict[str, Smoothing]]:
    """The three baselines as pysaliency models of ``fixations`` on ``stimuli`` (``BASELINES``), and the
    smoothing of the centre bias and the human one; the centre bias is ``centre_bias`` if given, else fitted on
    the other photos of ``stimuli`` (leave one photo out)."""
    bias, bias_smoothing = centre_bias or centre_bias_model(stimuli, fixations)
    gold, gold_smoothing = gold_model(stimuli, fixations)
    models = {UNIFORM: pysaliency.UniformModel(), CENTRE_BIAS: bias, HUMAN: gold}
    return models, {CENTRE_BIAS: bias_smoothing, HUMAN: gold_smoothing}


def fixation_scores(stimuli: object, fixations: object, models: Mapping[str, object], baseline: object) -> dict:
    """Per policy, per metric, one value per fixation: AUC and NSS of its saliency map, information gain
    (bits) over ``baseline``."""
    scores = {}
    for name, model in models.items():
        saliency = model if isinstance(model, MapModel) else DensityMap(model)
        scores[name] = {
            "auc": saliency.AUCs(stimuli, fixations),
            "nss": saliency.NSSs(stimuli, fixations),
            "information_gain": model.information_gains(stimuli, fixations, baseline_model=baseline),
        }
    return scores


def multimatch(path: Sequence[tuple[float, float]], other: Sequence[tuple[float, float]]) -> np.ndarray | None:
    """MultiMatch's spatial similarities (``MULTIMATCH_DIMENSIONS``, 1: identical) of two scanpaths in the frame;
    None when either is shorter than ``MULTIMATCH_MINIMUM``."""
    if min(len(path), len(other)) < MULTIMATCH_MINIMUM:
        return None
    import multimatch_gaze

    kind = [("start_x", float), ("start_y", float), ("duration", float)]
    one, two = (np.array([(x, y, 1.0) for x, y in p], dtype=kind) for p in (path, other))
    return np.asarray(multimatch_gaze.docomparison(one, two, screensize=[IMAGE_SIZE, IMAGE_SIZE]))[:4]


@dataclass
class Scores:
    """Scores of a recording: per photo, per policy, per metric the values of its fixations (``fixations``), and
    per photo, per policy the MultiMatch similarities of its observers' scanpaths (``scanpaths``)."""

    names: list[str]
    policies: list[str]
    fixations: dict[str, dict[str, dict[str, np.ndarray]]] = field(default_factory=dict)
    scanpaths: dict[str, dict[str, list[np.ndarray]]] = field(default_factory=dict)
    smoothing: dict[str, Smoothing] = field(default_factory=dict)  # the centre bias's and the human map's

    def smoothing_json(self) -> dict[str, dict[str, float]]:
        """The baselines' cross-validated smoothing as plain data."""
        return {name: asdict(smoothing) for name, smoothing in self.smoothing.items()}

    def rows(self) -> list[dict[str, object]]:
        """One row per photo and policy: its fixations, the mean of each metric and of each MultiMatch dimension
        (None where there is none)."""
        rows = []
        for name in self.names:
            for policy in self.policies:
                values = self.fixations[name][policy]
                similar = self.scanpaths[name].get(policy, [])
                mean = np.mean(similar, axis=0) if similar else [None] * len(MULTIMATCH_DIMENSIONS)
                rows.append({"image": name, "policy": policy, "fixations": len(values["auc"]),
                             **{m: float(np.mean(values[m])) for m in METRICS},
                             **{f"multimatch_{d}": None if v is None else float(v)
                                for d, v in zip(MULTIMATCH_DIMENSIONS, mean, strict=True)}})  # fmt: skip
        return rows

    def policy_means(self) -> dict[str, dict[str, float]]:
        """Per policy the mean of each metric over every fixation of every photo."""
        return {
            policy: {m: float(np.mean(np.concatenate([self.fixations[n][policy][m] for n in self.names])))
                     for m in METRICS}
            for policy in self.policies
        }  # fmt: skip


def photo_subset(stimuli: object, fixations: object, n: int) -> tuple[object, object]:
    """Stimulus ``n`` alone and its fixations (with their histories), renumbered to stimulus 0
    (``pysaliency.create_subset`` calls a function numpy 2 no longer has)."""
    subset = fixations[fixations.n == n]
    subset.n = np.zeros_like(subset.n)
    return pysaliency.Stimuli([stimuli.stimuli[n]]), subset


def observer_pairs(paths: Mapping[str, list[tuple[float, float]]]) -> dict[str, str]:
    """Each observer -> the next one (in order, cyclically) with a scanpath MultiMatch can compare."""
    usable = [o for o, p in paths.items() if len(p) >= MULTIMATCH_MINIMUM]
    return {o: usable[(i + 1) % len(usable)] for i, o in enumerate(usable) if len(usable) > 1}


def score_recording(
    recording: Recording, model: nn.Module, masking: Masking, map_names: Sequence[str],
    progress: Callable[[int], None] | None = None, multimatch_paths: bool = True, photos: Sequence[str] | None = None,
    centre_bias_from: Recording | None = None,
) -> Scores:  # fmt: skip
    """Every policy's scores on a recording (``map_names``: the model maps to score), photo after photo
    (``progress(fixations)`` after each), then MultiMatch on the scanpaths (``multimatch_paths``). ``photos``:
    score these only (the baselines are still fitted on every photo); a photo without a fixation inside the
    frame has no scores (``InputError`` when none has one). ``centre_bias_from``: fit the centre bias
    on this recording of other photos (default for a recording with fixations on one photo only, which has no
    other photo to leave out: the bundled recording)."""
    kept = {f.image for f in recording.fixations if f.kept}  # the photos with a fixation inside the frame
    scored = [name for name in recording.names if name in kept and (photos is None or name in photos)]
    if not scored:
        raise InputError(f"No fixation {'on that photo ' if photos else ''}lies inside the frame the model sees "
                         "(the centre square of the photo): there is nothing to score.")  # fmt: skip
    stimuli, fixations, observers = to_pysaliency(recording)
    if centre_bias_from is None and len(kept) < 2:  # no other photo to fit the centre bias on
        centre_bias_from = bundled_recording()
    centre_bias = fitted_centre_bias(centre_bias_from, scored) if centre_bias_from else None
    baselines, smoothing = baseline_models(stimuli, fixations, centre_bias)
    scores = Scores(scored, [*BASELINES, *map_names], smoothing=smoothing)
    for n, name in enumerate(recording.names):
        if name not in scored:
            continue
        sub_stimuli, sub_fixations = photo_subset(stimuli, fixations, n)
        histories = [history_points(xh, yh) for xh, yh in zip(sub_fixations.x_hist, sub_fixations.y_hist, strict=True)]
        maps = photo_maps(model, recording.images[n], histories, masking, map_names)
        stimulus_id = sub_stimuli.stimulus_ids[0]
        models = {**baselines, **{m: MapModel({(stimulus_id, h): v.numpy() for h, v in maps[m].items()})
                                  for m in map_names}}  # fmt: skip
        scores.fixations[name] = fixation_scores(sub_stimuli, sub_fixations, models, baselines[CENTRE_BIAS])
        if progress:
            progress(len(sub_fixations.x))
    scores.scanpaths = scanpath_scores(
        recording, model, masking, map_names if multimatch_paths else [], observers, scored
    )
    return scores


def scanpath_scores(
    recording: Recording, model: nn.Module, masking: Masking, map_names: Sequence[str], observers: list[str],
    photos: Sequence[str],
) -> dict[str, dict[str, list[np.ndarray]]]:  # fmt: skip
    """MultiMatch per photo: ``human``, each observer against the next one on the photo; per model map, each
    observer against the model's greedy scanpath of that map from the observer's first fixation, as long as
    theirs (every photo's paths advanced together in batched passes)."""
    paths: dict[str, dict[str, list[tuple[float, float]]]] = {name: {} for name in photos}
    for (image, observer), fixations in recording.scanpaths().items():
        if image in paths:
            paths[image][observer] = [(f.frame_x, f.frame_y) for f in fixations]
    result: dict[str, dict[str, list[np.ndarray]]] = {name: {HUMAN: []} for name in photos}
    for name, by_observer in paths.items():
        pairs = observer_pairs(by_observer)
        found = [multimatch(by_observer[one], by_observer[two]) for one, two in pairs.items()]
        result[name][HUMAN] = [s for s in found if s is not None]
    usable = [(name, o) for name in photos for o in sorted(paths[name], key=observers.index)
              if len(paths[name][o]) >= MULTIMATCH_MINIMUM]  # fmt: skip
    if not usable:
        return result
    images = recording.images[torch.tensor([recording.names.index(name) for name, _ in usable])]
    starts = [frame_pixel(*paths[name][o][0], IMAGE_SIZE) for name, o in usable]
    lengths = [len(paths[name][o]) for name, o in usable]
    for map_name in map_names:
        greedy = greedy_paths(model, images, starts, lengths, masking, map_name)
        for name in photos:
            result[name][map_name] = []
        for (name, o), path in zip(usable, greedy, strict=True):
            similarity = multimatch(paths[name][o], path)
            if similarity is not None:
                result[name][map_name].append(similarity)
    return result
