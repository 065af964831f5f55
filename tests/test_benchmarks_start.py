"""Every benchmark under bench/ imports: nothing else loads them between
measurements, so a moved module would otherwise be found only on the day
someone measures."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.mark.parametrize("script", sorted(p.name for p in BENCH.glob("*.py")))
def test_a_benchmark_imports(script, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))  # as when run as a script: its siblings import
    spec = importlib.util.spec_from_file_location(f"bench_{script[:-3]}", BENCH / script)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)  # each runs only under __main__
