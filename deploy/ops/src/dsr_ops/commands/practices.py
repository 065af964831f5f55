"""`dsr gp-practices`: an area's GP practices, from NHS ODS's practice file into its profile."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated

import typer

from dsr_ops import gp_practices
from dsr_ops.commands import common


def load_gp_practices(
    practice_file: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, readable=True, help="ODS's epraccur.csv (unzipped from epraccur.zip)."
        ),
    ],
    into: Annotated[
        list[Path],
        typer.Option(
            "--into",
            exists=True,
            dir_okay=False,
            writable=True,
            help="An area profile (.toml), or a ConfigMap manifest holding one under area.toml (.yaml); repeatable.",
        ),
    ],
    icb: Annotated[
        str | None,
        typer.Option(
            "--icb", help="The ICB's ODS code (or a sub-ICB location's); default: the code of DSR_AREA_PROFILE's area."
        ),
    ] = None,
) -> None:
    """Load the area's GP practices from NHS ODS's practice file.

    Writes the ICB's active GP practices (status A, prescribing setting 4) of
    PRACTICE_FILE into geography.gp_practice_codes of each --into file (R-ELIG-3:
    a referral is in the area through its GP practice); the rest of each file is
    kept as written. Restart the services after deploying the profile."""
    code = icb or common.settings().area.code
    try:
        practices = gp_practices.read_practices(practice_file)
    except gp_practices.NotAPracticeFile as exc:
        raise common.fail(f"{practice_file}: {exc}") from None
    codes = gp_practices.gp_practice_codes(practices, code)
    if not codes:
        raise common.fail(
            f"{practice_file}: no active GP practice of {code} among {len(practices)} rows; nothing was written"
        )
    note = [
        f"GP practices in the ICB (R-ELIG-3): the {len(codes)} active GP practices of {code}",
        f"in ODS's {practice_file.name} of {datetime.now(timezone.utc):%Y-%m-%d}, loaded with `dsr gp-practices`.",
    ]
    console = common.out()
    for path in into:
        try:
            gp_practices.write_gp_practices(path, codes, note)
        except ValueError as exc:
            raise common.fail(f"{path}: {exc}") from None
        common.say(console, f"{path}: {len(codes)} GP practices of {code}")


def add_to(app: typer.Typer) -> None:
    app.command("gp-practices")(load_gp_practices)
