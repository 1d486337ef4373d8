"""Masking and foveation throughput at batch 512, next to a per-sample loop of the same function.

    python -m bench.bench_masking [--batch 512] [--device cpu|cuda] [--repeats 7]

Also times the foveal filter against a plain per-image implementation in the style of the
reference (torchvision blur and resize per level, one image at a time), and one full
``render`` of one image (foreground cached) against the model's forward pass alone.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from bench.timing import machine, median_seconds, table
from focusmim_core import MODES, Autoencoder, inference_model, mask_images
from focusmim_core.explorer.render import render
from focusmim_core.explorer.viewstate import ViewState
from focusmim_core.geometry import IMAGE_SIZE
from focusmim_core.runtime import configure_cpu_allocator

GOALS = {"random_patches": 20_000, "periphery": 20_000, "periphery_square": 20_000, "foveate": 3_000}


def throughput(
    images: torch.Tensor, mode: str, fill: str, fixations: torch.Tensor, device: str, repeats: int
) -> tuple[float, float]:
    """(batched images/s, per-sample-loop images/s) for one mode and fill."""
    generator = torch.Generator(device=device).manual_seed(0)
    ratio = MODES[mode].default_ratio or 0.6

    def batched():
        mask_images(images, mode, ratio, fixations, fill=fill, generator=generator)

    loop_count = min(len(images), 64)

    def loop():
        for i in range(loop_count):
            mask_images(images[i : i + 1], mode, ratio, fixations[i : i + 1], fill=fill, generator=generator)

    ours = len(images) / median_seconds(batched, repeats, device=device)
    baseline = loop_count / median_seconds(loop, max(3, repeats // 2), device=device)
    return ours, baseline


def mode_rows(
    images: torch.Tensor, centre: torch.Tensor, random_fixations: torch.Tensor, device: str, repeats: int
) -> list[list[str]]:
    """One table row per mode, fill and kind of fixation: batched and per-sample img/s, ratio, goal."""
    rows = []
    for mode in MODES:
        fills = ("mean", "blur") if MODES[mode].uses_fill else ("-",)
        for fill in fills:
            for label, fixations in (("centre", centre), ("random", random_fixations)):
                if label == "random" and not MODES[mode].uses_fixation:
                    continue
                ours, baseline = throughput(images, mode, fill if fill != "-" else "mean", fixations, device, repeats)
                goal = GOALS.get(mode) if fill in ("mean", "-") else None
                verdict = f">= {goal:,}" + (" ok" if ours >= goal else " MISSED") if goal else ""
                where = label if MODES[mode].uses_fixation else "-"
                rows.append([mode, fill, where, f"{ours:,.0f}", f"{baseline:,.0f}", f"{ours / baseline:.1f}x", verdict])
    return rows


def foveate_against_plain(images: torch.Tensor, centre: torch.Tensor, device: str, repeats: int) -> None:
    """Print the batched foveal filter's img/s next to a plain per-image implementation's."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from reference_foveation import plain_foveate

    count = 16
    plain = count / median_seconds(lambda: [plain_foveate(images[i].cpu(), 48, 48) for i in range(count)], 3)
    ours = images.shape[0] / median_seconds(
        lambda: mask_images(images, "foveate", fixations=centre), repeats, device=device
    )
    print("\nFoveal filter vs a plain per-image implementation (torchvision ops per level, like the reference):")
    print(f"  ours {ours:,.0f} img/s, plain per-image {plain:,.0f} img/s, ratio {ours / plain:.1f}x")


def render_against_forward(image: torch.Tensor, device: str) -> None:
    """Print one full ``render`` of ``image`` ``(3, 96, 96)`` next to the model's forward pass alone (ms)."""
    model = inference_model(Autoencoder()).to(device)
    foreground = torch.rand(IMAGE_SIZE, IMAGE_SIZE, device=device)
    render_ms = 1000 * median_seconds(
        lambda: render(image, ViewState(fixation=(30, 40)), model, foreground), 21, 3, device
    )
    plain_model = Autoencoder().eval().to(device)
    with torch.no_grad():
        forward_ms = 1000 * median_seconds(lambda: plain_model(image[None]), 21, 3, device)
    print("\nOne full render of one image (all panels and metrics, foreground cached), median of 21:")
    print(
        f"  render {render_ms:.1f} ms (goal < 30 ms); baseline: the model's forward pass alone in its default "
        f"memory format {forward_ms:.1f} ms; ratio {render_ms / forward_ms:.2f}"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the masking benchmarks and print a table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    configure_cpu_allocator()
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(args.batch, 3, IMAGE_SIZE, IMAGE_SIZE, generator=generator).to(args.device)
    random_fixations = torch.randint(0, IMAGE_SIZE, (args.batch, 2), generator=generator).float().to(args.device)
    centre = torch.full((args.batch, 2), 48.0, device=args.device)
    print(f"Masking throughput, batch {args.batch} of 96 x 96 images, on {machine()}")
    print("baseline: the same function called once per image (a per-sample loop), same run\n")
    rows = mode_rows(images, centre, random_fixations, args.device, args.repeats)
    print(table(rows, ["mode", "fill", "fixations", "batched img/s", "per-sample img/s", "ratio", "goal"]))
    foveate_against_plain(images, centre, args.device, args.repeats)
    render_against_forward(images[0], args.device)
    return 0


if __name__ == "__main__":
    sys.exit(main())
