"""The repository explains itself: every rule id the code names is written down
in docs/RULES.md, every rule there is named by a test, and no file points
outside the repository."""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RULE_ID = re.compile(r"\bR-(?:ELIG|ID|RAG|OB)-\d+[a-z]?\b")
TEXT_SUFFIXES = {".py", ".toml", ".j2", ".md", ".yml", ".yaml", ".json", ".txt", ".cfg", ".ini", ""}


def _files() -> list[Path]:
    """The project's text files, outside hidden folders (git, caches, the virtual environment)."""
    found = []
    for folder, subfolders, names in os.walk(ROOT):
        subfolders[:] = [d for d in subfolders if not d.startswith(".") and d != "node_modules"]
        found += [Path(folder, name) for name in names if Path(name).suffix in TEXT_SUFFIXES]
    return found


def _is_test(path: Path) -> bool:
    return "tests" in path.relative_to(ROOT).parts


def _rule_ids(paths: list[Path]) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in paths:
        for rule in RULE_ID.findall(path.read_text("utf-8", errors="replace")):
            found.setdefault(rule, path)
    return found


def test_every_rule_the_code_names_is_in_the_rules_document():
    documented = set(RULE_ID.findall((ROOT / "docs" / "RULES.md").read_text("utf-8")))
    code = [p for p in _files() if p.suffix in {".py", ".toml", ".j2"} and not _is_test(p)]
    missing = {rule: str(path.relative_to(ROOT)) for rule, path in _rule_ids(code).items() if rule not in documented}
    assert not missing, f"rule ids used but not in docs/RULES.md: {missing}"


def test_every_documented_rule_is_named_by_a_test():
    documented = set(RULE_ID.findall((ROOT / "docs" / "RULES.md").read_text("utf-8")))
    tested = set(_rule_ids([p for p in _files() if p.suffix == ".py" and _is_test(p)]))
    assert documented - tested == set()


def test_no_file_points_outside_the_repository():
    outside = re.compile(r"\.\./shared|\bDOMAIN\.md\b|\bDEVELOPERS\.md\b")
    pointing = [
        str(path.relative_to(ROOT))
        for path in _files()
        if path != Path(__file__) and outside.search(path.read_text("utf-8", errors="replace"))
    ]
    assert pointing == []
