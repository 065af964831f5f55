"""Every rule the project states (docs/RULES.md) is exercised at the use-case
level, where it runs in milliseconds: some service's use-case tests name it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RULE_ID = re.compile(r"R-[A-Z]+-\d+[a-z]?")


def test_every_rule_in_the_rules_document_is_named_by_a_use_case_test():
    stated = set(RULE_ID.findall((ROOT / "docs" / "RULES.md").read_text()))
    named = {
        rule for path in ROOT.glob("services/*/tests/test_use_cases.py") for rule in RULE_ID.findall(path.read_text())
    }
    assert stated, "docs/RULES.md states no rule"
    assert stated <= named, f"rules without a use-case test: {sorted(stated - named)}"
