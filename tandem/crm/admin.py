"""The Django admin for the customer record (superusers only). Records are changed through the
app's pages and API, where services validate and audit; here the timeline is read-only."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from tandem.core.admin import ReadOnly, SuperuserOnly
from tandem.crm.models import (
    Account,
    AccountDomain,
    Contact,
    ContactEmail,
    ContactPhone,
    CustomAttribute,
    Identity,
    Tag,
    Touchpoint,
)


class ContactEmailInline(admin.TabularInline):
    model = ContactEmail
    extra = 0


class ContactPhoneInline(admin.TabularInline):
    model = ContactPhone
    extra = 0


@admin.register(Contact)
class ContactAdmin(SuperuserOnly):
    list_display = ("__str__", "email", "account", "owner", "lifecycle_stage", "created_at")
    list_filter = ("lifecycle_stage", "consent")
    search_fields = ("first_name", "last_name", "email")
    raw_id_fields = ("account", "owner")
    filter_horizontal = ("tags",)
    inlines = (ContactEmailInline, ContactPhoneInline)
    show_full_result_count = False


@admin.register(Account)
class AccountAdmin(SuperuserOnly):
    list_display = ("name", "industry", "region", "owner", "created_at")
    list_filter = ("industry",)
    search_fields = ("name", "domain_rows__domain")
    raw_id_fields = ("owner",)
    filter_horizontal = ("tags",)
    show_full_result_count = False


@admin.register(AccountDomain)
class AccountDomainAdmin(ReadOnly):
    list_display = ("domain", "account")
    search_fields = ("domain",)


@admin.register(Tag)
class TagAdmin(SuperuserOnly):
    search_fields = ("name",)


@admin.register(CustomAttribute)
class CustomAttributeAdmin(SuperuserOnly):
    list_display = ("label", "target", "key", "type", "required")
    list_filter = ("target", "type")


@admin.register(Identity)
class IdentityAdmin(ReadOnly):
    list_display = ("kind", "value", "contact", "created_at")
    search_fields = ("value",)


@admin.register(Touchpoint)
class TouchpointAdmin(ReadOnly):
    list_display = ("occurred_at", "kind", "channel", "department", "contact", "account", "is_bot")
    list_filter = ("department", "channel", "is_bot")
    raw_id_fields = ("contact", "account", "actor")
    show_full_result_count = False

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return bool(request.user.is_superuser)
