"""Contract examples for kvlib.bench (timings of the kernels, the paper's figures and the book)."""

EXAMPLES: dict = {}
_WHY = ("times the library's kernels for minutes; its argument checks are tested in "
        "tests/test_bench.py::test_benchmarks_check_their_arguments")
EXEMPT = {
    "bench_kernels": _WHY,
    "run_bench": _WHY,
    "to_markdown": "formats a whole benchmark record; tested in tests/test_bench.py with a recorded one "
                   "and in test_benchmarks_check_their_arguments",
}
