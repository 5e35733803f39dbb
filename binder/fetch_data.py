"""Fetch MNIST and Fashion-MNIST with kvlib's own downloader, hash-checked, ahead of time.

    python binder/fetch_data.py [--root DIR] [--check-only] [--keep-archives]

Binder's ``postBuild`` runs this while the image is built, so a session starts with the
data; the book's workflows and ``make data`` run it too. The data go to ``--root``, else
``$KVLIB_DATA``, else ``~/.cache/kvlib/data`` (:func:`kvlib.data.data_root`, where every
chapter looks). :func:`kvlib.data.fetch` downloads what is missing (torchvision checks each
archive's published MD5) and checks every uncompressed file against the published SHA-256
in :data:`kvlib.data.SHA256`; ``--check-only`` runs :func:`kvlib.data.verify`, which
downloads nothing. The downloaded ``.gz`` archives are then deleted (``--keep-archives``
keeps them): the image holds each file once.
"""
from __future__ import annotations

import argparse
import sys

DATASETS = ("mnist", "fashion")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=None,
                        help="data folder (default: $KVLIB_DATA or ~/.cache/kvlib/data)")
    parser.add_argument("--check-only", action="store_true", help="only check, download nothing")
    parser.add_argument("--keep-archives", action="store_true", help="keep the downloaded .gz files")
    args = parser.parse_args(argv)
    from kvlib.data import SHA256, DataError, data_root, fetch, verify

    root = data_root(args.root)
    try:
        for name in DATASETS:
            (verify if args.check_only else fetch)(name, root)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if not args.keep_archives:
        for gz in root.glob("*/raw/*.gz"):
            gz.unlink()
    n = sum(len(files) for files in SHA256.values())
    print(f"{n} data files in {root} match their published SHA-256")
    return 0


if __name__ == "__main__":
    sys.exit(main())
