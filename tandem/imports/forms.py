"""Forms of the import pages: the upload, the column mapping and the start of a run.

The mapping form has one optional choice per column of the file (`column_<index>`), offering the
fields the job's kind can fill (and "custom attribute"); a value outside those is a form error,
never stored. Both the upload and the mapping form carry the "keep columns that map to no field
as custom attributes" option.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from tandem.imports.mapping import KEEP
from tandem.imports.models import ImportKind

KEEP_UNMAPPED_LABEL = _("Keep columns that map to no field as custom attributes")


class UploadForm(forms.Form):
    kind = forms.ChoiceField(label=_("What the file holds"), choices=ImportKind.choices)
    file = forms.FileField(label=_("CSV or XLSX file"))
    keep_unmapped = forms.BooleanField(label=KEEP_UNMAPPED_LABEL, required=False)


class MappingForm(forms.Form):
    """Which field each column fills; an empty choice ignores the column, "custom" keeps it as
    a custom attribute; `keep_unmapped` keeps every column that maps to nothing so."""

    keep_unmapped = forms.BooleanField(label=KEEP_UNMAPPED_LABEL, required=False)

    def __init__(
        self,
        *args: Any,
        header: Sequence[str],
        targets: Sequence[str],
        keep: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.header = list(header)
        choices = [
            ("", _("(ignore)")),
            *((t, t) for t in targets),
        ]
        if keep:  # contacts keep custom attributes; accounts do not
            choices.append((KEEP, _("(custom attribute)")))
        for index, name in enumerate(self.header):
            self.fields[f"column_{index}"] = forms.ChoiceField(
                label=name, choices=choices, required=False
            )

    def override(self) -> dict[str, str]:
        """Header -> chosen target, as `services.import_job_set_mapping` takes it."""
        return {
            name: self.cleaned_data.get(f"column_{index}", "")
            for index, name in enumerate(self.header)
        }


class StartForm(forms.Form):
    dry_run = forms.BooleanField(required=False)
