"""Run every benchmark in turn: ``python -m bench.run_all`` (``make bench``).

Each benchmark prints what it measured, the baseline it measured in the same run, and the
ratio. Benchmarks that need something this machine lacks say so and are skipped.
"""

from __future__ import annotations

import importlib
import sys
import time

BENCHMARKS = (
    ("bench.bench_masking", []),
    ("bench.bench_train", ["--steps", "3"]),
    ("bench.bench_recipe", ["--seconds", "8"]),
    ("bench.bench_arch", []),
    ("bench.bench_probe", []),
    ("bench.bench_segment", []),
    ("bench.bench_app", []),
    ("bench.bench_gradio", []),
    ("bench.bench_load", []),
    ("bench.bench_api_load", []),
    ("bench.bench_gaze", ["--set", "focusmim_core/data/recordings/scene_fixations", "--no-multimatch"]),
)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks named on the command line (default: all); return 1 if one failed."""
    names = set(argv if argv is not None else sys.argv[1:])
    failed = []
    for module_name, args in BENCHMARKS:
        if names and module_name.split(".")[-1] not in names:
            continue
        print(f"\n===== {module_name} =====", flush=True)
        started = time.perf_counter()
        try:
            module = importlib.import_module(module_name)
            module.main(args)
        except Exception as error:  # report and go on with the next benchmark
            print(f"{module_name} failed: {type(error).__name__}: {error}", flush=True)
            failed.append(module_name)
        print(f"({time.perf_counter() - started:.0f} s)", flush=True)
    if failed:
        print(f"\nFailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
