"""Command line: ``python -m kvlib list | reproduce FIGURE | reproductions | bench | notebooks``.

``bench`` and ``notebooks`` run the book's notebooks, which live in a checkout of the book,
not in the installed package: they take the book's folder as ``--book DIR`` (default: the
current folder) and need the ``bench`` extra (``pip install "kvlib[bench]"``).
"""
from __future__ import annotations

import argparse
import os
import sys


def main(argv: list[str] | None = None) -> int:
    """Run one command; every error is one line on stderr and exit status 2 (``KVLIB_DEBUG=1``
    shows the traceback instead)."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return _run(parser, args)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 2
    except Exception as err:  # noqa: BLE001 - the command line reports, it does not crash
        if os.environ.get("KVLIB_DEBUG"):
            raise
        from kvlib.data import DataError
        known = isinstance(err, (ValueError, TypeError, DataError, OSError))
        msg = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if not known:
            msg = f"{type(err).__name__}: {msg} (set KVLIB_DEBUG=1 for the traceback)"
        print(f"error: {msg}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m kvlib",
                                     description="kvlib: the library behind the kv-memory-book")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="list the figures that can be reproduced")
    rp = sub.add_parser("reproduce", help="regenerate a figure as PNG + JSON")
    rp.add_argument("figure", help="figure name (see `list`)")
    rp.add_argument("--out", default="figures-out", help="output folder (default: figures-out)")
    rp.add_argument("--device", default=None, help="cpu, cuda, mps or auto (default: auto)")
    rp.add_argument("--no-progress", action="store_true", help="hide progress bars")
    rp.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a figure setting, e.g. --set paper_setting=text (repeatable)")
    bp = sub.add_parser("bench", help="benchmark the kernels and every notebook (JSON + Markdown)")
    bp.add_argument("--out", default="bench-out", help="output folder (default: bench-out)")
    bp.add_argument("--device", default=None, help="cpu, cuda, mps or auto (default: auto)")
    bp.add_argument("--quick", action="store_true", help="smaller shapes, one run per notebook")
    bp.add_argument("--no-notebooks", action="store_true", help="skip executing the notebooks")
    bp.add_argument("--book", default=".", metavar="DIR",
                    help="the book's folder, holding _toc.yml (default: the current folder)")
    rpp = sub.add_parser("reproductions", help="compute every comparison with a source (JSON + Markdown)")
    rpp.add_argument("--out", default="reproductions-out", help="output folder (default: reproductions-out)")
    rpp.add_argument("--device", default=None, help="cpu, cuda, mps or auto (default: auto)")
    rpp.add_argument("--chapter", type=int, default=None, help="only this chapter's rows (1-6)")
    rpp.add_argument("--only", action="append", default=None, metavar="KEY",
                     help="only this row (repeatable; see the Reproductions page for keys)")
    rpp.add_argument("--no-progress", action="store_true", help="hide progress bars")
    npr = sub.add_parser("notebooks", help="execute every notebook on a device: time and result drift")
    npr.add_argument("--device", default="cpu", help="cpu, cuda or mps (default: cpu)")
    npr.add_argument("--book", default=".", metavar="DIR",
                     help="the book's folder, holding _toc.yml (default: the current folder)")
    return parser


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.cmd in ("bench", "notebooks"):
        return _book_command(args)

    if args.cmd == "reproductions":
        from kvlib import reproductions
        results = reproductions.run(keys=args.only, chapter=args.chapter, device=args.device,
                                    progress=not args.no_progress)
        js, md = reproductions.write(results, args.out)
        n_ok = sum(r.verdict == "reproduced" for r in results)
        print(f"wrote {js} and {md}: {n_ok} of {len(results)} rows reproduced")
        return 0
    from kvlib.figures.registry import figures, reproduce
    if args.cmd == "list":
        for name, fig in figures().items():
            print(f"{name:28s} {fig.chapter:28s} {fig.description}")
        return 0
    settings = {}
    for item in args.set:
        if "=" not in item:
            parser.error(f"--set: expected KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        settings[key] = _parse_value(value)
    rec = reproduce(args.figure, out=args.out, device=args.device,
                    progress=not args.no_progress, **settings)
    print(f"wrote {args.out}/{args.figure}.png and {args.out}/{args.figure}.json "
          f"({rec['provenance']['wall_s']:.1f} s on {rec['provenance']['device']})")
    return 0


#: What ``bench`` and ``notebooks`` import beyond kvlib's own dependencies: the ``bench`` extra.
_BOOK_TOOLS = {"yaml": "PyYAML", "nbformat": "nbformat", "nbclient": "nbclient", "ipykernel": "ipykernel"}


def _book_command(args) -> int:
    """``bench`` and ``notebooks``: one line on stderr and exit 2 when the book or a tool is missing."""
    import importlib.util

    from kvlib import bench, book_runs

    needs_book = args.cmd == "notebooks" or not args.no_notebooks
    if needs_book:
        missing = [dist for mod, dist in _BOOK_TOOLS.items() if importlib.util.find_spec(mod) is None]
        if missing:
            print(f"error: running the notebooks needs {', '.join(missing)}: "
                  f"pip install \"kvlib[bench]\"", file=sys.stderr)
            return 2
    try:
        notebooks = book_runs.toc_notebooks(args.book) if needs_book else []
        from kvlib.device import get_device
        dev = get_device(args.device)
    except (ValueError, book_runs.BookNotFound) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.cmd == "bench":
        rec = bench.run_bench(args.out, device=args.device, quick=args.quick,
                              notebooks=needs_book, root=args.book if needs_book else None)
        print(f"wrote {args.out}/bench.json and {args.out}/bench.md ({rec['device_description']})")
        return 0
    rows = book_runs.run_notebooks(notebooks, device=dev.type)
    bad = [r["notebook"] for r in rows if not r["within_tolerance"]]
    if bad:
        print(f"checked numbers differ from the committed outputs beyond their stated tolerances in: "
              f"{', '.join(bad)}")
    return 1 if bad else 0


def _parse_value(text: str):
    import json
    try:
        return json.loads(text)
    except ValueError:
        return text


if __name__ == "__main__":
    sys.exit(main())
