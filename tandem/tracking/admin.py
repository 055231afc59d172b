"""Admin pages for sources, channel rules, tracked links and forms (read-only: the tracking pages
under /settings/tracking/ make them). Writes go through services."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.tracking import services
from tandem.tracking.channels import RULE_FIELDS, default_rule_dicts
from tandem.tracking.models import (
    ChannelRule,
    ChannelRuleSet,
    ConsentRecord,
    Form,
    IdentityConflict,
    ReclassifyRun,
    Source,
    TrackedLink,
)


class SourceForm(forms.ModelForm):
    class Meta:
        model = Source
        fields = ["name", "kind"]


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    form = SourceForm
    list_display = ["name", "kind", "key_prefix", "created_at", "revoked_at"]
    actions = ["revoke"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["name", "kind", "key_prefix", "revoked_at"] if obj else []

    def save_model(self, request: HttpRequest, obj: Source, form: Any, change: bool) -> None:
        if change:
            return
        try:
            source, key = services.source_create(
                actor=Actor.of(request), name=obj.name, kind=obj.kind
            )
        except InvalidInput as exc:
            messages.error(request, exc.message)
            return
        obj.pk = source.pk
        messages.warning(
            request,
            _("Write key for %(name)s (shown once): %(key)s") % {"name": source.name, "key": key},
        )

    @admin.action(description=_("Revoke the write keys of the selected sources"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[Source]) -> None:
        for source in queryset:
            services.source_revoke(actor=Actor.of(request), source=source)


class ChannelRulesForm(forms.ModelForm):
    rules = forms.CharField(
        label=_("Rules (JSON list, first match wins)"),
        widget=forms.Textarea(attrs={"rows": 30}),
        help_text=_(
            "Each rule: source_kind, utm_source, utm_medium, utm_campaign, referrer, "
            "event (regular expressions, empty matches anything), channel, department."
        ),
    )

    class Meta:
        model = ChannelRuleSet
        fields = ["note"]

    def clean_rules(self) -> list[dict[str, Any]]:
        try:
            value = json.loads(self.cleaned_data["rules"])
        except ValueError as exc:
            raise forms.ValidationError(_("Not valid JSON: %(error)s") % {"error": exc}) from exc
        if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
            raise forms.ValidationError(_("A list of rules is expected."))
        return value


class ChannelRuleInline(admin.TabularInline):
    model = ChannelRule
    extra = 0
    can_delete = False
    fields = ("position", *RULE_FIELDS, "channel", "department")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ChannelRuleSet)
class ChannelRuleSetAdmin(admin.ModelAdmin):
    """Published versions are read-only; "add" publishes a new version (prefilled with the
    rules in force) and reclassifies past touchpoints in the background."""

    list_display = ["version", "note", "created_at", "created_by"]
    form = ChannelRulesForm

    def get_inlines(self, request: HttpRequest, obj: Any) -> list[Any]:
        return [ChannelRuleInline] if obj else []

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ["version", "note", "created_at", "created_by"] if obj else ["note", "rules"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["version", "note", "created_at", "created_by"] if obj else []

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        latest = ChannelRuleSet.objects.order_by("-version").first()
        if latest is None:
            rules = default_rule_dicts()
        else:
            rules = list(
                latest.rules.order_by("position").values(*RULE_FIELDS, "channel", "department")
            )
        compact = [{k: v for k, v in r.items() if v} for r in rules]
        return {"rules": json.dumps(compact, indent=1, ensure_ascii=False)}

    def save_model(
        self, request: HttpRequest, obj: ChannelRuleSet, form: Any, change: bool
    ) -> None:
        try:
            published = services.channel_rules_publish(
                actor=Actor.of(request), rules=form.cleaned_data["rules"], note=obj.note
            )
        except InvalidInput as exc:
            messages.error(
                request, "; ".join(f"{k}: {', '.join(v)}" for k, v in exc.errors.items())
            )
            return
        obj.pk = published.pk

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        return None


@admin.register(TrackedLink)
class TrackedLinkAdmin(admin.ModelAdmin):
    list_display = ["token", "destination", "utm_campaign", "sharer", "is_trap", "created_at"]
    search_fields = ["destination", "utm_campaign"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["token", "created_by", "created_at"]

    def save_model(self, request: HttpRequest, obj: TrackedLink, form: Any, change: bool) -> None:
        from tandem.tracking import links

        data = {f: form.cleaned_data.get(f) for f in links.LINK_FIELDS if f in form.cleaned_data}
        try:
            if change:
                links.link_update(actor=Actor.of(request), link=obj, **data)
            else:
                created = links.link_create(actor=Actor.of(request), **data)
                obj.pk = created.pk
        except InvalidInput as exc:
            messages.error(request, exc.message)


@admin.register(Form)
class FormAdmin(admin.ModelAdmin):
    """Read-only: forms are made and changed on Settings > Tracking > Website forms (or the
    API), through `forms_service.form_create` / `form_update`."""

    list_display = ["name", "key", "consent_purpose", "consent_version", "double_opt_in"]
    readonly_fields = ["key", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ConsentRecord)
class ConsentRecordAdmin(admin.ModelAdmin):
    list_display = ["contact", "purpose", "wording_version", "state", "at", "ip"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(IdentityConflict)
class IdentityConflictAdmin(ConsentRecordAdmin):
    list_display = ["user_id", "kept_contact", "claimed_email", "at"]


@admin.register(ReclassifyRun)
class ReclassifyRunAdmin(ConsentRecordAdmin):
    """Read-only: runs are cancelled and restarted on the Channel rules page or with
    `tandem reclassify`."""

    list_display = ["pk", "version", "status", "processed", "total", "changed", "started_at",
                    "finished_at"]  # fmt: skip
    list_filter = ["status"]
