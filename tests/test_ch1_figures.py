"""Chapter 1's drawing helpers that no registered figure runs: the digit-retrieval widget and the
Markdown tables of Millidge et al.'s settings."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from kvlib.figures import ch1_kernels  # noqa: E402


def test_digit_retrieval_draws_cue_read_and_weights_with_the_error_in_the_title():
    g = torch.Generator().manual_seed(0)
    memories = torch.rand(5, 784, generator=g)
    fig = plt.figure()
    ch1_kernels.draw_digit_retrieval(fig, memories, noise=0.0, digit=2, similarity="euclidean",
                                     separation="max", log10_beta=0.0, masked=0.0)
    axes = fig.axes
    assert len(axes) == 3
    assert axes[2].get_title().endswith("squared error 0.0")       # an exact cue, max: its own digit
    plt.close(fig)


def test_millidge_tables_hold_one_row_per_step():
    sims, seps = ["dot", "cosine"], ["identity", "max"]
    row = {s: [0.1, 0.5] for s in sims}
    data = {"similarities": sims, "separations": seps,
            "similarity": {"noise": {"a": row, "b": row, "c": row}, "mask": {"a": row}},
            "separation": {"a": {s: [0.2, 0.25] for s in seps}, "b": {s: [0.2, 0.75] for s in seps}}}
    text = ch1_kernels.millidge_tables(data)
    assert text.count("| step | setting |") == 3
    assert len([line for line in text.splitlines() if line.startswith("| 3 |")]) == 1
    assert "| 2 | b | 0.75 | 0.75 |" in text                           # the largest N's accuracy
