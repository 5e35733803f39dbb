"""Command line: ``python -m kvlib list | reproduce FIGURE [--out DIR] [--device DEV]``."""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
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
    rpp = sub.add_parser("reproductions", help="compute every comparison with a source (JSON + Markdown)")
    rpp.add_argument("--out", default="reproductions-out", help="output folder (default: reproductions-out)")
    rpp.add_argument("--device", default=None, help="cpu, cuda, mps or auto (default: auto)")
    rpp.add_argument("--chapter", type=int, default=None, help="only this chapter's rows (1-6)")
    rpp.add_argument("--only", action="append", default=None, metavar="KEY",
                     help="only this row (repeatable; see the Reproductions page for keys)")
    rpp.add_argument("--no-progress", action="store_true", help="hide progress bars")
    npr = sub.add_parser("notebooks", help="execute every notebook on a device: time and result drift")
    npr.add_argument("--device", default="cpu", help="cpu, cuda or mps (default: cpu)")
    args = parser.parse_args(argv)

    if args.cmd == "bench":
        from kvlib.bench import run_bench
        rec = run_bench(args.out, device=args.device, quick=args.quick,
                        notebooks=not args.no_notebooks)
        print(f"wrote {args.out}/bench.json and {args.out}/bench.md ({rec['device_description']})")
        return 0
    if args.cmd == "notebooks":
        from kvlib.bench import run_notebooks
        from kvlib.device import get_device
        try:
            dev = get_device(args.device)
        except ValueError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        rows = run_notebooks(device=dev.type)
        bad = [r["notebook"] for r in rows if not r["max_abs_diff"] <= 1e-3]
        if bad:
            print(f"checked numbers differ from the committed outputs in: {', '.join(bad)}")
        return 1 if bad else 0

    from kvlib.data import DataError
    if args.cmd == "reproductions":
        from kvlib import reproductions
        try:
            results = reproductions.run(keys=args.only, chapter=args.chapter, device=args.device,
                                        progress=not args.no_progress)
            js, md = reproductions.write(results, args.out)
        except (ValueError, TypeError, DataError, OSError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        n_ok = sum(r.verdict == "reproduced" for r in results)
        print(f"wrote {js} and {md}: {n_ok} of {len(results)} rows reproduced")
        return 0
    from kvlib.reproduce import figures, reproduce
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
    try:
        rec = reproduce(args.figure, out=args.out, device=args.device,
                        progress=not args.no_progress, **settings)
    except (ValueError, TypeError, DataError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}/{args.figure}.png and {args.out}/{args.figure}.json "
          f"({rec['provenance']['wall_s']:.1f} s on {rec['provenance']['device']})")
    return 0


def _parse_value(text: str):
    import json
    try:
        return json.loads(text)
    except ValueError:
        return text


if __name__ == "__main__":
    sys.exit(main())
