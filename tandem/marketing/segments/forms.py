"""Forms of the segment pages: a segment (name, kind, filter as JSON), the live count, members of
a static list (typed ids or pasted text), adding a contact list's filtered contacts to a static
list, and a reaction.

The segment services keep the rules (a filter tree compiled from an allowlist, only static lists
take members, contacts the user may see); their `InvalidInput` is shown with the same form.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tandem.marketing.segments.members import MAX_IDS
from tandem.marketing.segments.models import Segment, SegmentReaction
from tandem.marketing.validation import MAX_ID

MAX_DEFINITION = 200_000  # characters of JSON: far more than the builder writes


def parse_definition(text: str) -> Any:
    """A filter as JSON (an empty text is the empty filter), else a ValidationError."""
    try:
        return json.loads(text or "{}")
    except json.JSONDecodeError as exc:
        raise forms.ValidationError(_("Not valid JSON: %(e)s") % {"e": exc.msg}) from None
    except RecursionError:  # hundreds of levels deep: far beyond what a filter may nest
        raise forms.ValidationError(_("The filter is nested too deeply.")) from None


class ContactIdsField(forms.Field):
    """Ticked contact ids (`contact_ids`, repeated): whole numbers, at most MAX_IDS of them."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[int]:
        values = [v for v in (value or []) if str(v).strip()]
        if len(values) > MAX_IDS:
            raise forms.ValidationError(
                _("At most %(n)s contacts per call.") % {"n": f"{MAX_IDS:,}"}
            )
        ids: list[int] = []
        for v in values:
            text = str(v).strip()
            if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_ID:
                raise forms.ValidationError(_("Choose a record from the list."))
            ids.append(int(text))
        return ids


class SegmentForm(forms.Form):
    name = forms.CharField(max_length=200, required=False)
    kind = forms.ChoiceField(choices=Segment.Kind.choices, required=False)
    definition = forms.CharField(max_length=MAX_DEFINITION, required=False, strip=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        cleaned["kind"] = cleaned.get("kind") or Segment.Kind.DYNAMIC
        if "definition" in cleaned:
            if cleaned["kind"] == Segment.Kind.STATIC:
                cleaned["definition"] = {}
            else:
                try:
                    cleaned["definition"] = parse_definition(cleaned["definition"])
                except forms.ValidationError as exc:
                    self.add_error("definition", exc)
        return cleaned


class SegmentCountForm(forms.Form):
    """The live count: a definition being edited, the segment it belongs to (so it may not refer
    to itself), and format=json for the visual builder."""

    definition = forms.CharField(max_length=MAX_DEFINITION, required=False, strip=False)
    segment = forms.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    format = forms.ChoiceField(choices=[("json", "JSON"), ("html", "HTML")], required=False)

    def clean_definition(self) -> Any:
        return parse_definition(self.cleaned_data.get("definition", ""))


class MembersForm(forms.Form):
    # ids or email addresses, one or more a line, read by `members.ids_from_text`
    contacts = forms.CharField(max_length=2_000_000, required=False)
    contact_ids = ContactIdsField(required=False)


class AddFilteredForm(forms.Form):
    """The contact list's filter (or the ids ticked there) and the static list to add them to."""

    q = forms.CharField(max_length=200, required=False)
    owner = forms.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    lifecycle_stage = forms.CharField(max_length=40, required=False)
    industry = forms.CharField(max_length=100, required=False)
    consent = forms.CharField(max_length=20, required=False)
    tag = forms.CharField(max_length=100, required=False)
    contact_ids = ContactIdsField(required=False)
    segment = forms.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        required=False,
        error_messages={"invalid": gettext_lazy("Choose a static list.")},
    )


class ReactionForm(forms.Form):
    kind = forms.ChoiceField(choices=SegmentReaction.Kind.choices)
    on_entered = forms.BooleanField(required=False)
    on_left = forms.BooleanField(required=False)
    sequence = forms.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    url = forms.CharField(max_length=500, required=False)
