"""Picking records by name: a form field whose widget is a search box with suggestions.

A person never types an id. The widget is a search box; as they type, htmx asks the app that
owns the records for matches (`search_url`, answered with `pick_options`), shown as radio buttons
(one record) or checkboxes (several) named after the field, so the form posts the chosen ids.
The boxes already ticked are sent with each search and come back first, so a choice survives the
next search.

Invariants:
- the field's `queryset` is the viewer's scoped queryset: an id outside it (typed by hand, stale,
  or of a record the viewer may not see) is refused with a form error, never trusted;
- suggestions come from the same scope (the endpoint reads through `scoped`), and show labels,
  never ids;
- the cleaned value is an id (one record, None when empty and not required) or a list of
  distinct ids in the order sent (several).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django import forms
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

MAX_ID = 2**63 - 1
FIELD_NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,60}$")
SUGGESTIONS = 20


def _ids(values: Iterable[Any]) -> list[int]:
    """Positive integer ids from raw values, in order, without repeats; junk is dropped."""
    out: list[int] = []
    for raw in values:
        try:
            pk = int(str(raw).strip())
        except ValueError:
            continue
        if 1 <= pk <= MAX_ID and pk not in out:
            out.append(pk)
    return out


class SearchPickInput(forms.Widget):
    """A search box and the boxes of the chosen records (see the module)."""

    def __init__(
        self,
        *,
        search_url: Any = "",  # a path or a lazy reverse()
        multiple: bool = False,
        placeholder: Any = "",  # text or a lazy translation, read when rendered
        attrs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(attrs)
        self.search_url = search_url
        self.multiple = multiple
        self.placeholder = placeholder
        self.labels: Callable[[list[int]], list[tuple[int, str]]] = lambda ids: []

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        if self.multiple:
            return data.getlist(name) if hasattr(data, "getlist") else data.get(name)
        return data.get(name)

    def value_omitted_from_data(self, data: Any, files: Any, name: str) -> bool:
        return name not in data

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        final = self.build_attrs(self.attrs, attrs)
        box_id = str(final.get("id") or f"id_{name}")
        raw = value if isinstance(value, list | tuple) else ([] if value in (None, "") else [value])
        chosen = self.labels(_ids(raw))
        return format_html(
            '<div class="picker" id="{}-picker">'
            '<input type="search" id="{}" name="{}" value="" placeholder="{}" autocomplete="off"'
            ' hx-get="{}" hx-trigger="input changed delay:250ms, search" hx-target="#{}-options"'
            ' hx-include="#{}-picker" hx-vals="{}" hx-sync="this:replace">'
            '<div class="picker-options" id="{}-options" role="group" aria-live="polite">{}</div>'
            "</div>",
            box_id,
            box_id,
            f"{name}__search",
            self.placeholder,
            self.search_url,
            box_id,
            box_id,
            json.dumps({"field": name, "multiple": "1" if self.multiple else "0"}),
            box_id,
            option_boxes(name, self.multiple, chosen, checked=True),
        )


def option_boxes(
    name: str, multiple: bool, options: Sequence[tuple[int, str]], *, checked: bool
) -> SafeString:
    """Radio buttons or checkboxes named `name`, one per (id, label)."""
    kind = "checkbox" if multiple else "radio"
    return format_html_join(
        "",
        '<label class="picker-option"><input type="{}" name="{}" value="{}"{}> {}</label>',
        ((kind, name, pk, " checked" if checked else "", label) for pk, label in options),
    )


class SearchPickField(forms.Field):
    """One record (or several, `multiple=True`) picked by name from `queryset`; see the module.

    `label_of` names a record in the suggestions and the chosen boxes."""

    widget = SearchPickInput
    default_error_messages = {
        "invalid_choice": _("Choose from the suggestions: search by name."),
        "too_many": _("Choose at most %(max)d."),
    }

    def __init__(
        self,
        *,
        search_url: Any = "",  # a path or a lazy reverse()
        multiple: bool = False,
        queryset: QuerySet[Any] | None = None,
        label_of: Callable[[Any], str] = str,
        max_choices: int = 500,
        placeholder: str = "",
        **kwargs: Any,
    ) -> None:
        self.multiple = multiple
        self.label_of = label_of
        self.max_choices = max_choices
        kwargs.setdefault(
            "widget",
            SearchPickInput(
                search_url=search_url, multiple=multiple, placeholder=placeholder or _("Name…")
            ),
        )
        super().__init__(**kwargs)
        self.queryset = queryset

    @property
    def queryset(self) -> QuerySet[Any] | None:
        return self._queryset

    @queryset.setter
    def queryset(self, queryset: QuerySet[Any] | None) -> None:
        self._queryset = queryset
        widget = self.widget
        if isinstance(widget, SearchPickInput):
            widget.labels = self.labels

    def __deepcopy__(self, memo: dict[int, Any]) -> SearchPickField:
        result = super().__deepcopy__(memo)
        result.queryset = self._queryset  # re-binds the copied widget's labels
        return result

    def labels(self, ids: list[int]) -> list[tuple[int, str]]:
        """(id, label) of the given ids that the queryset holds, in the given order."""
        if not ids or self._queryset is None:
            return []
        found = {obj.pk: obj for obj in self._queryset.filter(pk__in=ids)}
        return [(pk, self.label_of(found[pk])) for pk in ids if pk in found]

    def _invalid(self) -> forms.ValidationError:
        return forms.ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")

    def to_python(self, value: Any) -> Any:
        raw = value if isinstance(value, list | tuple) else ([] if value in (None, "") else [value])
        ids = _ids(raw)
        if len(ids) != len([v for v in raw if str(v).strip()]):
            raise self._invalid()
        if self.multiple:
            return ids
        return ids[0] if ids else None

    def validate(self, value: Any) -> None:
        if self.required and value in (None, []):
            raise forms.ValidationError(self.error_messages["required"], code="required")
        ids = value if isinstance(value, list) else ([] if value is None else [value])
        if len(ids) > self.max_choices:
            raise forms.ValidationError(
                self.error_messages["too_many"], code="too_many", params={"max": self.max_choices}
            )
        if ids and (
            self._queryset is None or self._queryset.filter(pk__in=ids).count() != len(ids)
        ):
            raise self._invalid()


def pick_options(
    request: HttpRequest,
    queryset: QuerySet[Any],
    *,
    search: Callable[[QuerySet[Any], str], QuerySet[Any]],
    label_of: Callable[[Any], str] = str,
) -> HttpResponse:
    """The suggestions endpoint's answer (for the app that owns the records): the boxes already
    ticked (still in `queryset`), then up to SUGGESTIONS matches of the search text. `queryset`
    is the viewer's scoped queryset; `search` narrows it by name."""
    name = request.GET.get("field", "")
    if not FIELD_NAME.match(name):
        return HttpResponse(status=400)
    multiple = request.GET.get("multiple") == "1"
    chosen_ids = _ids(request.GET.getlist(name))[: 500 if multiple else 1]
    found: dict[int, Model] = {o.pk: o for o in queryset.filter(pk__in=chosen_ids)}
    chosen = [(pk, label_of(found[pk])) for pk in chosen_ids if pk in found]
    text = request.GET.get(f"{name}__search", "").strip()[:200]
    matches: list[tuple[int, str]] = []
    if text:
        for obj in search(queryset.exclude(pk__in=list(found)), text)[:SUGGESTIONS]:
            matches.append((obj.pk, label_of(obj)))
    return render(
        request,
        "partials/pick_options.html",
        {
            "chosen": option_boxes(name, multiple, chosen, checked=True),
            "matches": option_boxes(name, multiple, matches, checked=False),
            "searched": bool(text),
            "none_found": bool(text) and not matches,
        },
    )
