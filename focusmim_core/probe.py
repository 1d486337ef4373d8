"""Linear probe of a frozen encoder (paper 3.4), k-NN accuracy and the fine-tuning variant.

The paper's protocol: flatten the encoder's 128 x 12 x 12 latent (18,432 features), fit one
linear layer to the 10 classes on 4,000 labelled images, stop at the lowest loss on 1,000
held-out images (patience 10 epochs, minimum improvement 1e-4, best weights restored),
Adam (lr 1e-4, weight decay 1e-8, batch 512), no augmentation and no masks; report test
accuracy, mean and spread over 5 seeds.

The encoder is frozen, so each image is encoded exactly once (``encode_features``) and every
epoch of every seed runs on the cached feature tensor; the reference re-ran the whole
autoencoder on every image in every epoch. Fine-tuning trains the encoder too, so it
re-encodes each epoch by necessity. Accuracies are fractions in [0, 1] (the paper
reports percent).
"""

from __future__ import annotations

import copy
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .checkpoints import read_metadata, sidecar_path, write_json
from .data import STL10, SyntheticScenes
from .errors import InputError
from .model import LATENT_DIM

NUM_CLASSES = 10
ImageLoader = Callable[[torch.Tensor], torch.Tensor]  # indices (n,) -> float images (n, 3, 96, 96) in [0, 1]


@dataclass
class ProbeSettings:
    """Optimisation of the probe head (paper defaults; fine-tuning uses ``learning_rate=1e-5``)."""

    learning_rate: float = 1e-4
    weight_decay: float = 1e-8
    batch_size: int = 512
    patience: int = 10
    min_delta: float = 1e-4
    max_epochs: int = 1000  # a safety cap; early stopping ends every run we have seen long before


@dataclass
class LabelledImages:
    """A labelled split: ``load(indices)`` gives float images ``(n, 3, 96, 96)``; ``labels`` int64 ``(N,)``."""

    load: ImageLoader
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])


@dataclass
class ProbeData:
    """The splits of a probe run: ``val`` None means "hold out ``val_count`` of ``train`` per seed"."""

    name: str
    train: LabelledImages
    test: LabelledImages
    val: LabelledImages | None = None
    val_count: int = 1000


@dataclass
class FitReport:
    """How one early-stopped fit went: per-epoch losses and the restored (best) epoch (0-based)."""

    best_epoch: int = -1
    best_val_loss: float = float("inf")
    train_losses: list[float] = field(default_factory=list)
    val_losses: list[float] = field(default_factory=list)

    @property
    def epochs(self) -> int:
        """Epochs run."""
        return len(self.val_losses)


@dataclass
class ProbeResult:
    """Test accuracies over seeds (fractions in [0, 1]) and what the runs did."""

    dataset: str
    seeds: list[int]
    accuracies: list[float]
    knn_accuracy: float | None
    best_epochs: list[int]
    epochs: list[int]
    seconds: float
    finetune: bool = False

    @property
    def accuracy_mean(self) -> float:
        """Mean test accuracy over seeds."""
        return statistics.fmean(self.accuracies)

    @property
    def accuracy_std(self) -> float:
        """Sample standard deviation of the test accuracy over seeds (0 for one seed)."""
        return statistics.stdev(self.accuracies) if len(self.accuracies) > 1 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary (what goes into checkpoint metadata)."""
        return {**asdict(self), "accuracy_mean": self.accuracy_mean, "accuracy_std": self.accuracy_std}


class EarlyStopping:
    """Stop after ``patience`` epochs without a validation-loss improvement of at least ``min_delta``.

    Keeps a copy of the best weights; ``restore`` puts them back.
    """

    def __init__(self, patience: int = 10, min_delta: float = 1e-4):
        self.patience, self.min_delta = patience, min_delta
        self.best_loss = float("inf")
        self.best_epoch = -1
        self.best_state: dict[str, torch.Tensor] | None = None
        self.waited = 0

    def update(self, epoch: int, val_loss: float, module: nn.Module) -> bool:
        """Record one epoch's validation loss; True when training should stop."""
        if val_loss < self.best_loss - self.min_delta:
            self.best_loss, self.best_epoch, self.waited = val_loss, epoch, 0
            self.best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
            return False
        self.waited += 1
        return self.waited >= self.patience

    def restore(self, module: nn.Module) -> None:
        """Load the best weights seen into ``module``."""
        if self.best_state is not None:
            module.load_state_dict(self.best_state)


def split_indices(count: int, val_count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded random split of ``range(count)`` into ``(fit, validation)`` index tensors."""
    if not 0 < val_count < count:
        raise ValueError(f"cannot hold out {val_count} of {count} images for validation")
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed))
    return order[val_count:], order[:val_count]


@torch.no_grad()
def encode_features(
    encoder: Callable[[torch.Tensor], torch.Tensor],
    load: ImageLoader,
    count: int,
    batch_size: int = 256,
    device: torch.device | str = "cpu",
    progress: Callable[[int], Any] | None = None,
) -> torch.Tensor:
    """Flattened latents of images ``0..count-1``: float32 ``(count, D)`` on ``device``.

    ``encoder`` maps ``(n, 3, 96, 96)`` to ``(n, ...)``, e.g. ``Autoencoder.encode`` to
    ``(n, 128, 12, 12)`` (D = 18,432) or ``RawPixels.encode`` to the image itself (D = 27,648);
    it is called once per batch. ``progress(n)`` is told how many images each batch held.
    """
    features: torch.Tensor | None = None
    for start in range(0, count, batch_size):
        indices = torch.arange(start, min(start + batch_size, count))
        images = load(indices).to(device, torch.float32, non_blocking=True)
        batch = encoder(images).reshape(len(indices), -1).float()
        if features is None:
            features = torch.empty((count, batch.shape[1]), dtype=torch.float32, device=device)
        features[start : start + len(indices)] = batch
        if progress is not None:
            progress(len(indices))
    if features is None:
        raise InputError("There are no images to encode: the probe needs at least one image per split.")
    return features


class RawPixels(nn.Module):
    """The paper's "raw pixels" baseline as an encoder: ``encode`` returns the image ``(N, 3, 96, 96)``."""

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """The pixels themselves: ``(N, 3, H, W)`` in, the same tensor out."""
        return images

    def probe_features(self, images: torch.Tensor) -> torch.Tensor:
        """The pixels flattened: ``(N, 3 * H * W)``."""
        return images.flatten(1)


@torch.no_grad()
def batched_logits(
    module: nn.Module,
    inputs: torch.Tensor,
    batch_size: int = 1024,
    prepare: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """``module(prepare(inputs))`` in batches: ``(N, ...)`` -> ``(N, classes)`` (``prepare`` defaults to none)."""
    prepare = prepare or (lambda batch: batch)
    return torch.cat([module(prepare(inputs[i : i + batch_size])) for i in range(0, len(inputs), batch_size)])


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of rows of ``logits`` ``(N, C)`` whose argmax equals ``labels`` ``(N,)``."""
    return int((logits.argmax(1) == labels.to(logits.device)).sum()) / len(labels)


def train_classifier(
    module: nn.Module,
    fit_x: torch.Tensor,
    fit_y: torch.Tensor,
    hold_x: torch.Tensor,
    hold_y: torch.Tensor,
    settings: ProbeSettings,
    seed: int = 0,
    prepare: Callable[[torch.Tensor], torch.Tensor] | None = None,
    eval_batch_size: int = 1024,
    on_epoch: Callable[[int, float], Any] | None = None,
) -> FitReport:
    """Train ``module`` (``(n, ...)`` -> ``(n, 10)`` logits) in place with Adam and early stopping.

    Minibatches of ``fit_x`` ``(N, ...)`` (labels ``fit_y`` ``(N,)``) are indexed out of the
    stored tensor in a seeded order (no DataLoader) and passed through ``prepare`` (e.g.
    uint8 images -> float on the device; default: as stored). Stops on the cross-entropy of
    ``hold_x``/``hold_y`` and restores the best epoch's weights. ``on_epoch(epoch, val_loss)``
    is called after each epoch. Shared by the linear probe and fine-tuning.
    """
    prepare = prepare or (lambda batch: batch)
    device = next(module.parameters()).device
    optimizer = torch.optim.Adam(module.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    generator = torch.Generator().manual_seed(seed)
    stopper = EarlyStopping(settings.patience, settings.min_delta)
    report = FitReport()
    fit_y, hold_y = fit_y.to(device), hold_y.to(device)
    for epoch in range(settings.max_epochs):
        order = torch.randperm(len(fit_x), generator=generator)
        total = torch.zeros((), device=device)
        for start in range(0, len(order), settings.batch_size):
            batch = order[start : start + settings.batch_size]
            logits = module(prepare(fit_x[batch.to(fit_x.device)]))
            loss = F.cross_entropy(logits, fit_y[batch.to(device)])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach() * len(batch)
        val_loss = float(F.cross_entropy(batched_logits(module, hold_x, eval_batch_size, prepare), hold_y))
        report.train_losses.append(float(total) / len(order))
        report.val_losses.append(val_loss)
        if on_epoch is not None:
            on_epoch(epoch, val_loss)
        if stopper.update(epoch, val_loss, module):
            break
    stopper.restore(module)
    report.best_epoch, report.best_val_loss = stopper.best_epoch, stopper.best_loss
    return report


def fit_linear_probe(
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    val_x: torch.Tensor,
    val_y: torch.Tensor,
    settings: ProbeSettings | None = None,
    seed: int = 0,
    on_epoch: Callable[[int, float], Any] | None = None,
) -> tuple[nn.Linear, FitReport]:
    """Fit ``Linear(D, 10)`` on cached features ``(N, D)`` with early stopping; best epoch restored.

    All work happens on the features' device (``train_classifier``). ``on_epoch(epoch,
    val_loss)`` is called after each epoch.
    """
    torch.manual_seed(seed)
    head = nn.Linear(train_x.shape[1], NUM_CLASSES).to(train_x.device)
    settings = settings or ProbeSettings()
    report = train_classifier(head, train_x, train_y, val_x, val_y, settings, seed, on_epoch=on_epoch)
    return head, report


@torch.no_grad()
def knn_accuracy(
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    test_x: torch.Tensor,
    test_y: torch.Tensor,
    k: int = 20,
    temperature: float = 0.07,
    batch_size: int = 512,
) -> float:
    """Weighted k-NN accuracy on cosine similarity (each of the ``k`` neighbours votes ``exp(sim / T)``).

    ``train_x`` ``(N, D)``, ``test_x`` ``(M, D)``, labels int64 in 0..9. The usual cheap
    self-supervised evaluation (as in DINO); no fitting.
    """
    bank = F.normalize(train_x.float(), dim=1)
    labels = train_y.to(bank.device)
    k = min(k, len(bank))
    correct = 0
    for start in range(0, len(test_x), batch_size):
        queries = F.normalize(test_x[start : start + batch_size].to(bank.device).float(), dim=1)
        similarity, neighbours = (queries @ bank.T).topk(k, dim=1)
        votes = torch.zeros(len(queries), NUM_CLASSES, device=bank.device)
        votes.scatter_add_(1, labels[neighbours], (similarity / temperature).exp())
        correct += int((votes.argmax(1) == test_y[start : start + batch_size].to(bank.device)).sum())
    return correct / len(test_x)


def _fit_and_validation(data: ProbeData, train_x: torch.Tensor, val_x: torch.Tensor | None, seed: int):
    """(fit_x, fit_y, val_x, val_y) for one seed: the fixed val split, or a seeded hold-out of train.

    ``train_x``/``val_x`` are the splits' features or images (first axis: image).
    """
    train_y = data.train.labels.to(train_x.device)
    if val_x is not None and data.val is not None:
        return train_x, train_y, val_x, data.val.labels.to(val_x.device)
    fit, held = split_indices(len(train_x), data.val_count, seed)
    fit, held = fit.to(train_x.device), held.to(train_x.device)
    return train_x[fit], train_y[fit], train_x[held], train_y[held]


def probe_encoder(
    model: nn.Module,
    data: ProbeData,
    seeds: list[int] | tuple[int, ...] = (0, 1, 2, 3, 4),
    settings: ProbeSettings | None = None,
    knn_k: int | None = 20,
    device: torch.device | str = "cpu",
    encode_batch_size: int = 256,
    progress: Callable[[str, int, int], Any] | None = None,
) -> ProbeResult:
    """The paper's linear probe of ``model.probe_features`` over several seeds, features encoded once.

    ``progress(stage, done, total)`` reports encoding (stages ``encode train`` ...) and seeds
    (stage ``seeds``). Returns test accuracies per seed, and k-NN accuracy (train+val as the
    memory bank) unless ``knn_k`` is None.
    """
    started = time.perf_counter()
    splits = {"train": data.train, "val": data.val, "test": data.test}
    features: dict[str, torch.Tensor | None] = {}
    for name, split in splits.items():
        if split is None:
            features[name] = None
            continue
        done = [0]

        def tick(n: int, name: str = name, total: int = len(split), done: list[int] = done) -> None:
            done[0] += n
            if progress is not None:
                progress(f"encode {name}", done[0], total)

        read = getattr(model, "probe_features", model.encode)  # an encoder with only encode(): its output
        features[name] = encode_features(read, split.load, len(split), encode_batch_size, device, tick)
    train_x, val_x, test_x = features["train"], features["val"], features["test"]
    test_y = data.test.labels.to(device)
    accuracies, best_epochs, epochs = [], [], []
    for i, seed in enumerate(seeds):
        fit_x, fit_y, hold_x, hold_y = _fit_and_validation(data, train_x, val_x, seed)
        head, report = fit_linear_probe(fit_x, fit_y, hold_x, hold_y, settings, seed)
        accuracies.append(accuracy(batched_logits(head, test_x), test_y))
        best_epochs.append(report.best_epoch)
        epochs.append(report.epochs)
        if progress is not None:
            progress("seeds", i + 1, len(seeds))
    knn = None
    if knn_k:
        bank_x = train_x if val_x is None else torch.cat([train_x, val_x])
        bank_y = data.train.labels if data.val is None else torch.cat([data.train.labels, data.val.labels])
        knn = knn_accuracy(bank_x, bank_y, test_x, test_y, k=knn_k)
    return ProbeResult(
        data.name, list(seeds), accuracies, knn, best_epochs, epochs, time.perf_counter() - started, finetune=False
    )


class Classifier(nn.Module):
    """The encoder followed by a linear layer on its flattened latent: ``(N, 3, 96, 96)`` -> ``(N, 10)``."""

    def __init__(self, encoder: nn.Module, features: int = LATENT_DIM):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(features, NUM_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images ``(N, 3, 96, 96)`` -> class logits ``(N, 10)`` from the flattened latent."""
        return self.head(self.encoder(x).flatten(1))


def collect_images(load: ImageLoader, count: int, batch_size: int = 512) -> torch.Tensor:
    """All images of a split as uint8 ``(count, 3, 96, 96)`` on the CPU (rounded from [0, 1])."""
    chunks = []
    for start in range(0, count, batch_size):
        images = load(torch.arange(start, min(start + batch_size, count)))
        chunks.append(images.clamp(0, 1).mul(255).round().to(torch.uint8).cpu())
    return torch.cat(chunks)


PREDICT_BATCH = 256  # images per forward pass when fine-tuning evaluates (the encoder's activations are large)


def _as_float(images: torch.Tensor, device: torch.device | str) -> torch.Tensor:
    return images.to(device, non_blocking=True).float().div_(255)


def finetune_encoder(
    model: nn.Module,
    data: ProbeData,
    seeds: list[int] | tuple[int, ...] = (0, 1, 2, 3, 4),
    settings: ProbeSettings | None = None,
    device: torch.device | str = "cpu",
    progress: Callable[[str, int, int], Any] | None = None,
) -> ProbeResult:
    """Fine-tuning (paper 3.4): encoder and linear head trained together, same split and early stopping.

    Each seed starts from a fresh copy of ``model``'s encoder; ``settings`` default to the
    paper's lr 1e-5. Images are held once in memory as uint8; every epoch re-encodes them.
    """
    settings = settings or ProbeSettings(learning_rate=1e-5)
    started = time.perf_counter()
    train_images = collect_images(data.train.load, len(data.train))
    val_images = collect_images(data.val.load, len(data.val)) if data.val is not None else None
    test_images = collect_images(data.test.load, len(data.test))
    test_y = data.test.labels.to(device)
    to_float = partial(_as_float, device=device)
    accuracies, best_epochs, epochs = [], [], []
    for i, seed in enumerate(seeds):
        fit_images, fit_y, hold_images, hold_y = _fit_and_validation(data, train_images, val_images, seed)
        torch.manual_seed(seed)
        encoder = copy.deepcopy(model.encoder).to(device)  # ConvNeXt: timm's, globally pooled (paper 3.5)
        with torch.no_grad():
            features = encoder.eval()(_as_float(test_images[:1], device)).flatten(1).shape[1]
        classifier = Classifier(encoder, features).to(device).train()

        def tick(epoch: int, _: float, seed: int = seed) -> None:
            if progress is not None:
                progress(f"finetune seed {seed} epoch", epoch + 1, settings.max_epochs)

        report = train_classifier(
            classifier, fit_images, fit_y, hold_images, hold_y, settings, seed, to_float, PREDICT_BATCH, tick
        )
        accuracies.append(accuracy(batched_logits(classifier, test_images, PREDICT_BATCH, to_float), test_y))
        best_epochs.append(report.best_epoch)
        epochs.append(report.epochs)
        if progress is not None:
            progress("seeds", i + 1, len(seeds))
    return ProbeResult(
        data.name, list(seeds), accuracies, None, best_epochs, epochs, time.perf_counter() - started, finetune=True
    )


def stl10_probe_data(root: str, limit: int | None = None, val_count: int = 1000) -> ProbeData:
    """STL-10 ``train`` (5,000: 4,000 fit + 1,000 held out per seed) and ``test`` (8,000).

    ``limit`` keeps the first ``limit`` images of each split (quick runs), and then holds
    out a fifth of them at most. Raises ``DatasetError`` for missing or truncated files.
    """
    train, test = STL10(root, "train"), STL10(root, "test")
    train_count = min(len(train), limit or len(train))
    test_count = min(len(test), limit or len(test))
    assert train.labels is not None and test.labels is not None
    return ProbeData(
        name="stl10",
        train=LabelledImages(train.images, train.labels[:train_count]),
        test=LabelledImages(test.images, test.labels[:test_count]),
        val_count=min(val_count, max(1, train_count // 5)),
    )


def synthetic_probe_data(
    train: int = 4000,
    val: int = 1000,
    test: int = 8000,
    seed: int = 0,
    limit: int | None = None,
    layout: str = "centred",
) -> ProbeData:
    """Procedural scenes: the ``train``, ``val`` and ``test`` splits (sizes capped at ``limit``).

    ``layout`` ``centred`` (default) puts each object near the middle, as STL-10 does: a
    linear layer on the flattened 12 x 12 latent cannot follow an object around the image,
    and on ``scattered`` scenes even the true silhouettes give a linear probe ~17 %.
    """
    sizes = {"train": train, "val": val, "test": test}
    splits = {}
    for name, size in sizes.items():
        size = min(size, limit) if limit else size
        scenes = SyntheticScenes(name, seed=seed, length=size, layout=layout)
        splits[name] = LabelledImages(
            lambda indices, scenes=scenes: scenes.batch(indices)[0], scenes.labels(torch.arange(size))
        )
    return ProbeData(name="synthetic", train=splits["train"], val=splits["val"], test=splits["test"])


def record_probe_result(checkpoint: str | os.PathLike, result: ProbeResult) -> Path:
    """Store ``result`` in the checkpoint's JSON metadata; returns the JSON path. Weights are untouched.

    ``metrics["probe"]`` holds the latest run; ``metrics["probe_runs"]`` keeps the latest
    per ``dataset/linear`` or ``dataset/finetune``, so a quick run does not erase another
    kind. A reference ``.pt`` file gets the JSON beside it (``model.pt`` -> ``model.json``).
    """
    metadata = read_metadata(checkpoint)
    values = result.to_dict()
    metadata.metrics["probe"] = values
    runs = dict(metadata.metrics.get("probe_runs") or {})
    runs[f"{result.dataset}/{'finetune' if result.finetune else 'linear'}"] = values
    metadata.metrics["probe_runs"] = runs
    path = sidecar_path(checkpoint)
    write_json(path, metadata.to_dict())
    return path
