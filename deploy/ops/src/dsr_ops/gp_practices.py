"""An ICB's GP practices from NHS ODS's practice file, into an area profile.

ODS publishes every prescribing cost centre in England and Wales as
`epraccur.csv` (in `epraccur.zip`): no header row, 27 columns. Those read here:

| column | field |
|---|---|
| 1 | organisation code (the practice's ODS code) |
| 2 | name |
| 4 | high level health geography: the ICB's code (e.g. QJ2) |
| 13 | status: A active, C closed, D dormant, P proposed |
| 15 | commissioner: the sub-ICB location's code (e.g. 15M) |
| 26 | prescribing setting: 4 is a GP practice (others: walk-in centre, out of hours, ...) |

R-ELIG-3 ties a person to the area through their GP practice: the profile's
`geography.gp_practice_codes` is the list of the ICB's active GP practices."""

from __future__ import annotations

import csv
import re
import textwrap
import tomllib
from dataclasses import dataclass
from pathlib import Path

FIELDS = 27
CODE, NAME, ICB, STATUS, SUB_ICB, SETTING = 0, 1, 3, 12, 14, 25
ACTIVE = "A"
GP_PRACTICE = "4"
KEY = "gp_practice_codes"


class NotAPracticeFile(ValueError):
    pass


@dataclass(frozen=True)
class Practice:
    code: str
    name: str
    icb: str
    sub_icb: str
    status: str
    setting: str


def read_practices(path: Path) -> list[Practice]:
    """Every row of an epraccur file; NotAPracticeFile if its layout is not epraccur's."""
    practices = []
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as file:
        for number, row in enumerate(csv.reader(file), start=1):
            if not row:
                continue
            if len(row) != FIELDS:
                raise NotAPracticeFile(
                    f"line {number} has {len(row)} fields; epraccur.csv has {FIELDS} and no header row"
                )
            practices.append(Practice(*(row[i].strip() for i in (CODE, NAME, ICB, SUB_ICB, STATUS, SETTING))))
    return practices


def gp_practice_codes(practices: list[Practice], icb: str) -> list[str]:
    """The active GP practices of the ICB (or of one sub-ICB location), sorted."""
    icb = icb.strip().upper()
    return sorted(
        {
            p.code
            for p in practices
            if icb in (p.icb.upper(), p.sub_icb.upper()) and p.status == ACTIVE and p.setting == GP_PRACTICE
        }
    )


def _toml_list(codes: list[str], note: list[str]) -> list[str]:
    lines = [f"# {line}" for line in note] + [f"{KEY} = ["]
    for start in range(0, len(codes), 8):
        lines.append("  " + ", ".join(f'"{c}"' for c in codes[start : start + 8]) + ",")
    return lines + ["]"]


def with_gp_practices(profile: str, codes: list[str], note: list[str]) -> str:
    """The profile's TOML text with `geography.gp_practice_codes` set to `codes`
    (the comment lines right above the old list are replaced by `note`);
    everything else is kept as written."""
    lines = profile.splitlines()
    block = _toml_list(codes, note)
    geography = next((i for i, line in enumerate(lines) if line.strip() == "[geography]"), None)
    if geography is None:
        lines += ["", "[geography]", *block]
    else:
        end = next((i for i in range(geography + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines))
        start = next((i for i in range(geography + 1, end) if re.match(rf"\s*{KEY}\s*=", lines[i])), None)
        if start is None:
            lines[geography + 1 : geography + 1] = block
        else:
            stop = start
            while "]" not in lines[stop].split("#")[0]:
                stop += 1
            while start - 1 > geography and lines[start - 1].lstrip().startswith("#"):
                start -= 1
            lines[start : stop + 1] = block
    text = "\n".join(lines) + "\n"
    written = tomllib.loads(text).get("geography", {}).get(KEY)
    assert written == codes, "the profile would not read back as written"
    return text


_CONFIGMAP_KEY = re.compile(r"^(?P<indent>\s*)area\.toml:\s*\|\s*$")


def with_gp_practices_in_configmap(manifest: str, codes: list[str], note: list[str]) -> str:
    """The same, for the profile a Kubernetes ConfigMap holds under `area.toml: |`."""
    lines = manifest.splitlines()
    at = next((i for i, line in enumerate(lines) if _CONFIGMAP_KEY.match(line)), None)
    if at is None:
        raise ValueError("no `area.toml: |` key in this file")
    outer = len(_CONFIGMAP_KEY.match(lines[at])["indent"])
    end = at + 1
    while end < len(lines) and (not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) > outer):
        end += 1
    while end > at + 1 and not lines[end - 1].strip():
        end -= 1  # blank lines after the block belong to the file
    body = "\n".join(lines[at + 1 : end])
    indent = min(len(line) - len(line.lstrip()) for line in lines[at + 1 : end] if line.strip())
    profile = with_gp_practices(textwrap.dedent(body), codes, note)
    lines[at + 1 : end] = [(" " * indent + line) if line else "" for line in profile.splitlines()]
    return "\n".join(lines) + "\n"


def write_gp_practices(path: Path, codes: list[str], note: list[str]) -> None:
    """Into a profile (.toml) or a ConfigMap manifest holding one (.yaml, .yml)."""
    text = path.read_text("utf-8")
    if path.suffix in (".yaml", ".yml"):
        path.write_text(with_gp_practices_in_configmap(text, codes, note), "utf-8")
    else:
        path.write_text(with_gp_practices(text, codes, note), "utf-8")
