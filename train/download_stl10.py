"""Download STL-10 (2.6 GB, needs internet): ``python -m train.download_stl10 ROOT``.

Fetches and extracts the official binary archive into ``ROOT/stl10_binary`` with
torchvision's downloader (md5-checked) and prints that folder. Offline, it says where to
get the archive instead and exits with status 2.
"""

from __future__ import annotations

import argparse
import sys

from focusmim_core.data import download_stl10
from focusmim_core.errors import InputError

from .cli import fail


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m train.download_stl10``."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", help="folder to download into (the files land in ROOT/stl10_binary)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: print the folder of the ``*_X.bin`` files; exit status 2 with a message on failure."""
    args = build_parser().parse_args(argv)
    try:
        folder = download_stl10(args.root)
    except InputError as error:
        return fail(error)
    print(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
