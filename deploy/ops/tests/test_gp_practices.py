"""`dsr gp-practices`: an ICB's active GP practices from ODS's epraccur.csv
(27 columns, no header row) into an area profile and the ConfigMap that
deploys it, everything else in those files kept as written."""

from __future__ import annotations

import csv
import difflib
import shutil
from pathlib import Path

from typer.testing import CliRunner

from dsr_shared.rules.area import load_profile
from dsr_ops.cli import app

ROOT = Path(__file__).resolve().parents[3]
PROFILE = ROOT / "shared" / "src" / "dsr_shared" / "rules" / "profiles" / "derbyshire.toml"
CONFIGMAP = ROOT / "deploy" / "k8s" / "areas" / "derbyshire" / "config.yaml"


def practice(code: str, icb: str, *, status: str = "A", setting: str = "4", sub_icb: str = "15M") -> list[str]:
    """One epraccur row: code, name, national grouping, ICB, five address
    lines, postcode, open and close dates, status, sub-type, commissioner
    (sub-ICB), join and left dates, phone, three nulls, amended flag, null,
    provider, null, prescribing setting, null."""
    return [
        code,
        f"PRACTICE {code}",
        "Y60",
        icb,
        "1 HIGH STREET",
        "",
        "DERBY",
        "",
        "",
        "DE1 1AA",
        "19740401",
        "" if status == "A" else "20200331",
        status,
        "B",
        sub_icb,
        "20220701",
        "",
        "01332 000000",
        "",
        "",
        "",
        "0",
        "",
        icb,
        "",
        setting,
        "",
    ]


def epraccur(path: Path) -> Path:
    rows = [
        practice("C81001", "QJ2"),
        practice("C81002", "QJ2"),
        practice("C81099", "QJ2", status="C"),  # closed
        practice("Y02625", "QJ2", setting="1"),  # a walk-in centre, not a GP practice
        practice("M83001", "QNC", sub_icb="05D"),  # Staffordshire and Stoke-on-Trent
        practice("C84001", "QT1", sub_icb="52R"),  # Nottingham and Nottinghamshire
    ]
    with open(path, "w", newline="") as file:
        csv.writer(file, quoting=csv.QUOTE_ALL).writerows(rows)
    return path


def test_the_icbs_active_gp_practices_go_into_the_profile_and_its_configmap(tmp_path):
    source = epraccur(tmp_path / "epraccur.csv")
    profile, configmap = tmp_path / "derbyshire.toml", tmp_path / "config.yaml"
    shutil.copy(PROFILE, profile)
    shutil.copy(CONFIGMAP, configmap)
    result = CliRunner().invoke(
        app,
        ["gp-practices", str(source), "--icb", "QJ2", "--into", str(profile), "--into", str(configmap)],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert "2 GP practices of QJ2" in result.output

    loaded = load_profile(str(profile))
    assert loaded.geography.gp_practice_codes == ["C81001", "C81002"]
    assert loaded.model_dump(exclude={"geography"}) == load_profile("derbyshire").model_dump(exclude={"geography"})
    assert loaded.geography.postcode_districts == load_profile("derbyshire").geography.postcode_districts
    # The ConfigMap now deploys exactly the profile written.
    import yaml

    (area,) = [
        d for d in yaml.safe_load_all(configmap.read_text()) if d and d["metadata"]["name"] == "dsr-area-profile"
    ]
    assert area["data"]["area.toml"] == profile.read_text()
    # Only the list and the comment above it changed.
    changed = [
        line[2:]
        for line in difflib.ndiff(PROFILE.read_text().splitlines(), profile.read_text().splitlines())
        if line.startswith(("- ", "+ "))
    ]
    assert changed and all(
        line.startswith(("gp_practice_codes", '  "C81', "]", "# GP practices", "# in ODS")) for line in changed
    ), changed

    # A second load replaces the list; a sub-ICB location's code selects its practices.
    again = CliRunner().invoke(app, ["gp-practices", str(source), "--icb", "05D", "--into", str(profile)])
    assert again.exit_code == 0, again.output
    assert load_profile(str(profile)).geography.gp_practice_codes == ["M83001"]
    assert profile.read_text().count("gp_practice_codes") == 1


def test_a_file_that_is_not_epraccur_or_has_no_practice_of_the_icb_changes_nothing(tmp_path):
    profile = tmp_path / "derbyshire.toml"
    shutil.copy(PROFILE, profile)
    with_header = tmp_path / "with-header.csv"
    with_header.write_text("Organisation Code,Name\nC81001,PRACTICE\n")
    result = CliRunner().invoke(app, ["gp-practices", str(with_header), "--icb", "QJ2", "--into", str(profile)])
    assert result.exit_code == 1 and "has 27 and no header row" in " ".join(result.output.split())
    result = CliRunner().invoke(
        app, ["gp-practices", str(epraccur(tmp_path / "e.csv")), "--icb", "QXX", "--into", str(profile)]
    )
    assert result.exit_code == 1 and "no active GP practice of QXX" in " ".join(result.output.split())
    assert profile.read_text() == PROFILE.read_text()
