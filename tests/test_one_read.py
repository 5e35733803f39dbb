"""One read for the whole library: only kvlib.kernels computes a softmax or a similarity-weighted sum.

Every other module reads its memories through ``kernels.retrieve`` (or takes weights from
``kernels.separate``/``kernels.softmax``), so the numerically safe read reaches every model.
The check looks at code only (comments and strings are dropped) for the ways attention is
written by hand.
"""
from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "kvlib"
ONLY_HERE = {"kernels.py"}

#: How a softmax or an attention-weighted sum is written by hand.
FORBIDDEN = {
    "a softmax": re.compile(r"(?:\btorch|\bF|\bnn\.functional)\s*\.\s*(?:log_)?softmax\b"
                            r"|(?<!kernels )(?<!\bK )\.\s*softmax\s*\("
                            r"|\bnn\s*\.\s*Softmax\b|\blogsumexp\b"),
    "attention weights times values": re.compile(r"\b(?:attn|attention|alpha|weights)\s*@\s*\w*(?:val|V\b)"),
}


def _code(path: Path) -> str:
    """The module's code without comments and string literals (docstrings included)."""
    out, last = [], (1, 0)
    for tok in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
        if tok.type in (tokenize.COMMENT, tokenize.STRING):
            continue
        if tok.start[0] != last[0]:
            out.append("\n")
        out.append(tok.string + " ")
        last = tok.end
    return "".join(out)


MODULES = sorted(p for p in ROOT.rglob("*.py") if p.name not in ONLY_HERE and "__pycache__" not in p.parts)


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(ROOT)) for p in MODULES])
def test_no_module_but_kernels_writes_attention_by_hand(path):
    code = _code(path)
    found = [f"{what}: {m.group(0)!r} (line {code[:m.start()].count(chr(10)) + 1})"
             for what, rx in FORBIDDEN.items() for m in rx.finditer(code)]
    assert not found, (f"{path.relative_to(ROOT)} computes attention itself; read through "
                       f"kvlib.kernels.retrieve instead: " + "; ".join(found))


def _code_of(tmp_path, text: str) -> str:
    f = tmp_path / "one.py"
    f.write_text(text)
    return _code(f)


def test_the_check_catches_what_it_should(tmp_path):
    f = tmp_path / "m.py"
    f.write_text('"""torch.softmax in a docstring is fine"""\n# attn @ values in a comment too\n'
                 "w = torch.softmax(s, -1)\nout = attn @ values\n")
    code = _code(f)
    assert FORBIDDEN["a softmax"].search(code) and FORBIDDEN["attention weights times values"].search(code)
    assert FORBIDDEN["a softmax"].search(_code_of(tmp_path, "w = scores.softmax(-1)\n"))
    assert not FORBIDDEN["a softmax"].search(_code_of(tmp_path, "w = kernels.softmax(s, beta=2.0)\n"))
    assert "docstring" not in code and "comment" not in code
