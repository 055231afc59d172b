"""The Django admin (at /django-admin/, superusers only): a view for operators, not the app."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.http import HttpRequest

from tandem.core.models import (
    ApiToken,
    AuditEntry,
    Holiday,
    LoginAttempt,
    Organisation,
    Team,
    User,
)


class SuperuserOnly(admin.ModelAdmin):
    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)


class ReadOnly(SuperuserOnly):
    """Logs are append-only: readable here, never edited or deleted."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(User)
class TandemUserAdmin(UserAdmin):
    list_display = ("username", "email", "first_name", "last_name", "role", "team", "is_active")
    list_filter = ("role", "team", "is_active", "is_superuser")
    fieldsets = (
        *(UserAdmin.fieldsets or ()),
        ("Tandem", {"fields": ("role", "team", "time_zone", "language")}),
    )

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)


@admin.register(Team)
class TeamAdmin(SuperuserOnly):
    list_display = ("name", "department", "region")
    list_filter = ("department",)
    search_fields = ("name", "region")


@admin.register(Organisation)
class OrganisationAdmin(SuperuserOnly):
    list_display = ("name", "currency", "time_zone", "language")


@admin.register(Holiday)
class HolidayAdmin(SuperuserOnly):
    list_display = ("date", "name")


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnly):
    list_display = ("at", "actor", "action", "model", "object_id", "object_repr")
    list_filter = ("action", "model")
    search_fields = ("object_id", "object_repr", "actor__username")
    date_hierarchy = "at"


@admin.register(LoginAttempt)
class LoginAttemptAdmin(ReadOnly):
    list_display = ("username", "ip", "at")
    search_fields = ("username",)

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return bool(request.user.is_superuser)


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnly):
    list_display = ("name", "user", "prefix", "scope", "created_at", "last_used_at", "revoked_at")
    list_filter = ("scope",)
    search_fields = ("name", "prefix", "user__username")
    exclude = ("token_hash",)
