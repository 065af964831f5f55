"""An import-linter contract type the built-in ones lack: an allow-list.

`allowed_imports`: each module of the source packages imports nothing but the
standard library, its own package, and the allowed modules (with their
submodules). A forbidden contract lists what may not be imported, so a new
dependency slips through; this one lists what may. Direct imports only: give
each allowed internal module a contract of its own to cover what it imports.
"""

from __future__ import annotations

import sys

import grimp
from importlinter import Contract, ContractCheck, fields, output


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(f"{package}.")


def _allowed(imported: str, source: str, allowed: list[str]) -> bool:
    if imported.split(".")[0] in sys.stdlib_module_names or _within(imported, source):
        return True
    return any(_within(imported, a) for a in allowed)


class AllowedImportsContract(Contract):
    type_name = "allowed_imports"

    source_modules = fields.ListField(subfield=fields.ModuleField())
    allowed_modules = fields.ListField(subfield=fields.ModuleField())

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        allowed = [m.name for m in self.allowed_modules]  # type: ignore[attr-defined]
        illegal: list[dict[str, object]] = []
        for source in self.source_modules:  # type: ignore[attr-defined]
            for importer in sorted({source.name} | graph.find_descendants(source.name)):
                for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                    if _allowed(imported, source.name, allowed):
                        continue
                    lines = [d["line_number"] for d in graph.get_import_details(importer=importer, imported=imported)]
                    illegal.append({"importer": importer, "imported": imported, "lines": lines})
        return ContractCheck(kept=not illegal, metadata={"illegal": illegal})

    def render_broken_contract(self, check: ContractCheck) -> None:
        output.print_error("Imports outside the allowed list:", bold=False)
        output.new_line()
        for link in check.metadata["illegal"]:
            lines = ", ".join(map(str, link["lines"]))
            output.print_error(f"- {link['importer']} -> {link['imported']} (l.{lines})", bold=False)
        output.new_line()
