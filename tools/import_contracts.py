"""An import-linter contract: Tandem's apps use each other only through their public modules.

For every import from `tandem.<a>...` into `tandem.<b>.<module>` with a != b, <module> must be
one of the public ones (services, selectors, models, ...). The shared kernel app (`tandem.core`)
is public to everyone except for its pages (views, urls) and its CLI. Tests are exempt.
"""

from __future__ import annotations

from typing import Any

from grimp import ImportGraph
from importlinter import Contract, ContractCheck, fields, output


class AppBoundaryContract(Contract):
    type_name = "app_boundaries"

    root = fields.StringField()
    public = fields.ListField(subfield=fields.StringField())
    kernel = fields.StringField()
    kernel_private = fields.ListField(subfield=fields.StringField())

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        config: Any = self  # import-linter replaces the field declarations with their values
        root = str(config.root)
        public = set(config.public)
        kernel = str(config.kernel)
        kernel_private = set(config.kernel_private)
        broken: list[dict[str, Any]] = []
        for importer in sorted(graph.modules):
            parts = importer.split(".")
            if parts[0] != root or len(parts) < 2 or "tests" in parts:
                continue  # tests may reach into any app to arrange a case
            for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                target = imported.split(".")
                if target[0] != root or len(target) < 3 or target[1] == parts[1]:
                    continue
                if target[2] in public:
                    continue
                if target[1] == kernel and target[2] not in kernel_private:
                    continue
                for detail in graph.get_import_details(importer=importer, imported=imported):
                    broken.append(
                        {"importer": importer, "imported": imported, "line": detail["line_number"]}
                    )
        return ContractCheck(kept=not broken, metadata={"broken": broken})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for item in check.metadata["broken"]:
            output.print_error(
                f"{item['importer']}:{item['line']} imports {item['imported']}, "
                "which is internal to another app (use its services or selectors)"
            )
