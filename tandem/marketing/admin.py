"""The Django admin for marketing (superusers only; marketers use /marketing/subscriptions/).

Subscription types follow the same rule as the page: a type the consent ledger or a send refers
to keeps its key and cannot be deleted (archive it: untick "active"). Reactions and their
deliveries are read-only here (a webhook's secret is never shown)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from tandem.core.admin import ReadOnly, SuperuserOnly
from tandem.marketing.models import ReactionDelivery, SegmentReaction, SubscriptionType
from tandem.marketing.subscriptions.services import in_use


@admin.register(SubscriptionType)
class SubscriptionTypeAdmin(SuperuserOnly):
    list_display = ("name", "key", "double_opt_in", "wording_version", "active")
    list_filter = ("active", "double_opt_in")
    search_fields = ("name", "key")

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> tuple[str, ...]:
        if isinstance(obj, SubscriptionType) and in_use(obj):
            return ("key",)
        return ()

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        if isinstance(obj, SubscriptionType) and in_use(obj):
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # it would not check each type's ledger use
        return actions


@admin.register(SegmentReaction)
class SegmentReactionAdmin(ReadOnly):
    list_display = ("segment", "kind", "on_entered", "on_left", "sequence", "url", "active")
    list_filter = ("kind", "active")
    exclude = ("secret_encrypted",)


@admin.register(ReactionDelivery)
class ReactionDeliveryAdmin(ReadOnly):
    list_display = ("created_at", "reaction", "event", "status", "attempts", "last_error")
    list_filter = ("status",)
    show_full_result_count = False
