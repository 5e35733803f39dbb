"""How fast the book runs, measured on the device it runs on.

``python -m kvlib bench`` times the library's heavy kernels and every notebook of the
book and writes ``bench.json`` plus a Markdown table, ``bench.md``, that the
"Benchmarks" appendix page shows. Every figure is the median of several runs; ratios
are measured side by side in one run. The notebooks are those listed in the book's
``_toc.yml``, so a new chapter is benchmarked by being listed there.

``python -m kvlib notebooks --device cuda`` executes every notebook on the chosen device
and prints its time and whether the numbers its checked cells print (cell tag
``nbval-check-output``, printed by ``kvlib.notebook.check``) agree with the committed (CPU)
outputs within their stated tolerances: the GPU may change speed, never results.

The notebooks are book files, not part of the installed package: both commands read them
from a checkout of the book (``--book DIR``, default the current folder) and need the
``bench`` extra (``pip install "kvlib[bench]"``: PyYAML, nbformat, nbclient, ipykernel).
Timing the kernels alone (``--no-notebooks``) needs neither.

Explained in the appendix, §Benchmarks.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:                 # torch is imported where it is used: finding the book stays cheap
    import torch

from kvlib.book_runs import run_notebooks, toc_notebooks

__all__ = ["BUDGETS", "bench_kernels", "run_bench", "to_markdown"]

#: The budgets the benchmark reports against (issue: the book on 2 CPU cores).
BUDGETS = {"book_total_s": 300.0, "reproduce_fig3_s": 17.0, "notebook_peak_mib": 2048.0,
           "retrieve_vs_matmul": 0.5, "chunked_speedup": 10.0}

def _median_time(fn: Callable[[], object], repeats: int, device: torch.device) -> float:
    import torch

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    fn()                                            # warm-up
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _timing_args(device: object, repeats: object, quick: object) -> torch.device:
    """Check the arguments every benchmark takes; return the device."""
    from kvlib.device import get_device
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats: expected a positive int, got {repeats!r}")
    if not isinstance(quick, bool):
        raise TypeError(f"quick: expected True or False, got {quick!r}")
    return get_device(device)


def bench_kernels(device: str | torch.device = "cpu", repeats: int = 3, quick: bool = False) -> dict:
    """Median timings of the library's heavy kernels on ``device``."""
    import torch

    device = _timing_args(device, repeats, quick)
    out: dict = {}
    from kvlib import kernels
    shapes = (1024, 15000, 784) if quick else (4096, 60000, 784)
    runs = [kernels.benchmark_retrieve(*shapes, device=device, repeats=1) for _ in range(repeats)]
    out["retrieve"] = {k: (statistics.median(r[k] for r in runs) if isinstance(runs[0][k], float)
                           else runs[0][k]) for k in runs[0]}
    from kvlib import fastweights
    lens = (256, 1024) if quick else (256, 512, 1024, 2048, 4096)
    # one thread on CPU: the forms are sequences of small products, which a second thread
    # slows down on a busy machine (the comparison is between forms, on equal terms)
    out["fastweights"] = fastweights.benchmark_forms(
        lens, repeats=repeats, device=device, threads=1 if device.type == "cpu" else None)

    # the dual-form read-out: Eq 11 over every stored pair vs the weight matrix
    from torch import nn

    from kvlib.dualform import MemoryRecorder
    g = torch.Generator().manual_seed(0)
    layer = nn.Linear(784, 64, bias=False).to(device)
    opt = torch.optim.SGD(layer.parameters(), lr=1e-3)
    rec = MemoryRecorder(layer, opt)
    n_steps = 50 if quick else 200
    for _ in range(n_steps):
        x = torch.rand(128, 784, generator=g).to(device)
        loss = layer(x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    mem = rec.memories[""]
    xq = torch.rand(512, 784, generator=g).to(device)
    with torch.no_grad():
        t_dual = _median_time(lambda: mem(xq), repeats, device)
        t_w = _median_time(lambda: layer(xq), repeats, device)
        err = float((mem(xq) - layer(xq)).abs().max())
    out["dualform"] = {"n_memories": mem.n_memories, "queries": 512, "readout_s": t_dual,
                       "weights_s": t_w, "max_abs_diff": err}

    out["paper_figures"] = bench_paper_figures(device, repeats=1 if quick else repeats)

    # `python -m kvlib reproduce fig3`, imports and data loading included, as a reader runs it
    import tempfile
    times = []
    for _ in range(1 if quick else repeats):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "kvlib", "reproduce", "fig3", "--out", tmp,
                            "--device", device.type, "--no-progress"], check=True,
                           capture_output=True)
            times.append(time.perf_counter() - t0)
    out["reproduce_fig3"] = {"seconds": statistics.median(times), "runs": len(times)}

    from kvlib import scaffold_capacity
    Ps = [100, 400, 1600, 3600]
    t0 = time.perf_counter()
    scaffold_capacity.capacity_sweep(Ps, n_hippocampal=400, n_sensory=3600, device=device)
    out["scaffold_sweep"] = {"n_patterns": Ps, "seconds": time.perf_counter() - t0}
    return out


def _plain_fig3(device: torch.device) -> list[float]:
    """Figure 3 in plain torch, as the published notebook computes it (no kvlib on the path):
    a Task-1 and a Task-2 copy of a 784-64-4 bias-free ReLU MLP, the Task-2 copy zero and
    frozen during Task 1, the Task-1 copy frozen during Task 2, SGD (lr 6e-4, batch 128,
    data order, 5 + 5 epochs), accuracy after each epoch, then Task-1 accuracy for 21
    values of beta scaling the Task-1 copy. The same data tensors and initial weights as
    :func:`kvlib.continual.run_continual`; returns the Task-1 accuracies against beta."""
    import torch
    from torch import nn

    from kvlib.data import load_classes
    x1, y1 = load_classes("mnist", [0, 1], train=True, relabel=[0, 1], device=device)
    t1 = load_classes("mnist", [0, 1], train=False, relabel=[0, 1], device=device)
    x2, y2 = load_classes("fashion", [2, 3], train=True, relabel=[2, 3], device=device)
    t2 = load_classes("fashion", [2, 3], train=False, relabel=[2, 3], device=device)
    torch.manual_seed(0)
    in1, in2 = nn.Linear(784, 64, bias=False), nn.Linear(784, 64, bias=False)
    out1, out2 = nn.Linear(64, 4, bias=False), nn.Linear(64, 4, bias=False)
    layers = [m.to(device) for m in (in1, in2, out1, out2)]
    with torch.no_grad():
        in2.weight.zero_()
        out2.weight.zero_()

    def net(x, b=1.0):
        return out1(torch.relu(in1(x) * b + in2(x))) * b + out2(torch.relu(in1(x) * b + in2(x)))

    def acc(t, b=1.0):
        with torch.no_grad():
            return 100.0 * (net(t[0], b).argmax(1) == t[1]).float().mean().item()

    opt = torch.optim.SGD([m.weight for m in layers], lr=6e-4)
    for train, (x, y) in ((in1, (x1, y1)), (in2, (x2, y2))):
        for m in layers:
            m.weight.requires_grad_(m in ((in1, out1) if train is in1 else (in2, out2)))
        for _ in range(5):
            for s in range(0, len(x), 128):
                loss = nn.functional.cross_entropy(net(x[s:s + 128]), y[s:s + 128])
                opt.zero_grad()
                loss.backward()
                opt.step()
            acc(t1), acc(t2)
    return [acc(t1, 1.0 + 0.1 * i) for i in range(21)]


def bench_paper_figures(device: str | torch.device = "cpu", repeats: int = 3) -> dict:
    """The paper's figures through kvlib against a minimal plain-torch version of the same
    computation, side by side in this run, with one and with two CPU threads.

    Figure 2A: :func:`kvlib.toy.benchmark_toy` (the batched, hand-derived gradient against the
    one-step-at-a-time autograd loop with ``torch.optim.Adam``). Figure 3: the figure function
    (:func:`kvlib.continual.run_continual`, every memory materialised, and a 21-point beta
    sweep) against :func:`_plain_fig3`. Each entry: seconds for both and their ratio
    (kvlib / plain; below 1 means kvlib is faster), medians of ``repeats``.
    """
    from kvlib import continual, toy
    from kvlib.device import cpu_threads
    device = _timing_args(device, repeats, False)
    threads = (1, 2) if device.type == "cpu" else (None,)
    out: dict = {"fig2a": {}, "fig3": {}}
    for n in threads:
        key = f"{n}_threads" if n else "gpu"
        with cpu_threads(n):
            t = toy.benchmark_toy(2, repeats=repeats, device=device)
        out["fig2a"][key] = {"kvlib_s": t["fast_s"], "plain_s": t["autograd_s"], "ratio": t["ratio"]}

        def kv():
            run = continual.run_continual(device=device)
            continual.beta_sweep(run, [round(1.0 + 0.1 * i, 1) for i in range(21)])

        with cpu_threads(n):
            _plain_fig3(device)                          # warm-up: data loading and caches
            t_kv = _median_time(kv, repeats, device)
            t_plain = _median_time(lambda: _plain_fig3(device), repeats, device)
        out["fig3"][key] = {"kvlib_s": t_kv, "plain_s": t_plain, "ratio": t_kv / t_plain}
    return out


def device_name(device: torch.device) -> str:
    """The hardware a benchmark ran on, e.g. 'NVIDIA H100 80GB HBM3' or 'CPU: <model>, 2 cores'."""
    import torch

    if device.type == "cuda":
        return f"GPU: {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "Apple MPS"
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        import platform
        model = platform.processor()
    return f"CPU: {model or 'unknown model'}, {os.cpu_count()} cores"


def run_bench(out: str | Path = "bench-out", device: str | None = None, quick: bool = False,
              notebooks: bool = True, repeats: int = 3, root: str | os.PathLike | None = None) -> dict:
    """Run everything, write ``bench.json`` and ``bench.md`` into ``out``; return the record.

    With ``notebooks``, the book in ``root`` (default: the current folder) is executed too;
    a missing book raises :class:`kvlib.book_runs.BookNotFound` before anything is timed.
    """
    import torch

    dev = _timing_args(device, repeats, quick)
    if not isinstance(notebooks, bool):
        raise TypeError(f"notebooks: expected True or False, got {notebooks!r}")
    if not isinstance(out, (str, os.PathLike)):
        raise TypeError(f"out: expected a folder path, got {type(out).__name__} {out!r}")
    nbs = toc_notebooks(root) if notebooks else []
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rec = {"device": str(dev), "device_description": device_name(dev),
           "threads": torch.get_num_threads(), "torch": torch.__version__,
           "time": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "budgets": BUDGETS,
           "kernels": bench_kernels(dev, repeats=repeats, quick=quick)}
    if notebooks:
        rec["notebooks"] = run_notebooks(nbs, device=dev.type, repeats=1 if quick else 3,
                                         compare_to_committed=True)
    (out / "bench.json").write_text(json.dumps(rec, indent=1))
    (out / "bench.md").write_text(to_markdown(rec))
    return rec


def to_markdown(rec: dict) -> str:
    """The benchmark record as the Markdown tables the appendix page shows."""
    if not isinstance(rec, dict) or not isinstance(rec.get("kernels"), dict):
        raise TypeError("rec: expected a benchmark record (the dict run_bench returns, as in "
                        f"bench.json), got {type(rec).__name__}")
    k = rec["kernels"]
    r, fw, df = k["retrieve"], k["fastweights"], k["dualform"]
    fig3, sweep = k["reproduce_fig3"]["seconds"], k["scaffold_sweep"]["seconds"]

    def ok(good: bool) -> str:
        return "met" if good else "**missed**"

    ratio, speedup = r["throughput_ratio"], fw["speedup_chunked_vs_recurrent"]
    lines = [f"Measured on **{rec['device_description']}** (torch {rec['torch']}, "
             f"{rec['threads']} threads), {rec['time']}.", "",
             "| kernel | measurement | budget |", "| --- | --- | --- |",
             f"| `retrieve` (dot + softmax), {r['n_queries']} queries x {r['n_keys']} keys x {r['dim']} dims "
             f"| {r['retrieve_s']:.2f} s, {r['retrieve_gflops']:.0f} GFLOP/s; "
             f"one matmul {r['matmul_s']:.2f} s, {r['matmul_gflops']:.0f} GFLOP/s; "
             f"throughput ratio {ratio:.2f} "
             f"| >= {BUDGETS['retrieve_vs_matmul']}: {ok(ratio >= BUDGETS['retrieve_vs_matmul'])} |",
             f"| fast weights ({fw['rule']} rule), length {fw['seq_len'][-1]} "
             f"| recurrent {fw['recurrent_s'][-1]:.3f} s, "
             f"parallel {fw['parallel_s'][-1]:.3f} s, chunked {fw['chunked_s'][-1]:.3f} s "
             f"(speed-up {speedup:.0f}x; forms agree to {fw['max_abs_diff']:.1e}) "
             f"| >= {BUDGETS['chunked_speedup']:.0f}x: {ok(speedup >= BUDGETS['chunked_speedup'])} |",
             f"| dual-form read-out, {df['n_memories']:,} memories, {df['queries']} queries "
             f"| {df['readout_s']:.3f} s "
             f"(weights: {df['weights_s']:.5f} s; max difference {df['max_abs_diff']:.1e}) | — |",
             f"| `python -m kvlib reproduce fig3` (Figure 3, every memory materialised, "
             f"imports and data included) | {fig3:.1f} s "
             f"| <= {BUDGETS['reproduce_fig3_s']:.0f} s (twice the published "
             f"notebook's 8.5 s): {ok(fig3 <= BUDGETS['reproduce_fig3_s'])} |",
             f"| scaffold capacity sweep (N_h = 400, 3,600 sensory units, up to 3,600 patterns) "
             f"| {sweep:.1f} s | < 30 s: {ok(sweep < 30)} |"]
    pf = k.get("paper_figures")
    if pf:
        lines += ["", "The paper's figures through kvlib against a minimal plain-torch version of the "
                  "same computation, run side by side here (ratio = kvlib time / plain time):", "",
                  "| figure | threads | kvlib | plain torch | ratio |", "| --- | --- | --- | --- | --- |"]
        names = {"fig2a": "Figure 2A (batched hand-derived gradient vs autograd + Adam loop)",
                 "fig3": "Figure 3 (every memory materialised + 21-point beta sweep vs two-copy MLP)"}
        for fig, rows in pf.items():
            for key, row in rows.items():
                where = key.replace("_", " ").replace("1 threads", "1 thread")
                lines.append(f"| {names[fig]} | {where} | {row['kvlib_s']:.2f} s "
                             f"| {row['plain_s']:.2f} s | {row['ratio']:.2f} |")
    if "notebooks" in rec:
        lines += ["", "| notebook | execution time | peak memory | checked numbers vs committed |",
                  "| --- | --- | --- | --- |"]
        total = 0.0
        for row in rec["notebooks"]:
            total += row["wall_s"]
            peak = f"{row['peak_mib']:.0f} MiB" if row.get("peak_mib") else "n/a"
            drift = (f"{row.get('checked_numbers', 0)} numbers, "
                     f"max difference {row.get('max_abs_diff', 0):.2g}")
            if not row.get("within_tolerance", True):
                drift += ", **outside the stated tolerances**"
            lines.append(f"| {row['notebook']} | {row['wall_s']:.1f} s | {peak} | {drift} |")
        peak_all = max((r.get("peak_mib") or 0) for r in rec["notebooks"])
        lines += ["", f"Whole book: {total:.0f} s (budget {BUDGETS['book_total_s']:.0f} s on 2 CPU cores: "
                  f"{ok(total <= BUDGETS['book_total_s'])}); largest notebook peak {peak_all:.0f} MiB "
                  f"(budget {BUDGETS['notebook_peak_mib']:.0f} MiB)."]
    return "\n".join(lines) + "\n"
