"""Core pages: sign in and out, the language switch, organisation settings, people and teams
(invitations, changes, deactivation), setting a password from an invitation link, a user's own
profile, the audit log, a user's API tokens and the health of background work (failed tasks,
with a retry by hand). Views are thin: parse, call a service, render."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import INTERNAL_RESET_SESSION_TOKEN, PasswordResetConfirmView
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render, resolve_url
from django.urls import reverse_lazy
from django.utils import timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST
from django_tasks_db.models import DBTaskResult

from tandem.core import services
from tandem.core.access import can
from tandem.core.audit import Actor
from tandem.core.client_address import client_address
from tandem.core.errors import InvalidInput
from tandem.core.forms import (
    AuditFilterForm,
    HolidayForm,
    LoginForm,
    OrganisationForm,
    ProfileForm,
    RecoveryCodesForm,
    TeamForm,
    TokenForm,
    TwoFactorCodeForm,
    TwoFactorResetForm,
    UserChangeForm,
    UserDeactivateForm,
    UserInviteForm,
    apply_invalid_input,
)
from tandem.core.invitations import site_url_of
from tandem.core.lockout import LOCKED_STATUS, locked_message
from tandem.core.middleware import SESSION_KEY, organisation_time_zone
from tandem.core.models import AuditEntry, Holiday, Organisation, Team, User
from tandem.core.owned_records import owned_counts
from tandem.core.paging import keyset_page
from tandem.core.recovery_codes import FEW_LEFT, recovery_codes_left
from tandem.core.sign_in import sign_in_complete, sign_in_pending_set
from tandem.core.task_health import task_health_summary
from tandem.core.task_recovery import task_retry as retry_task
from tandem.core.tokens import token_create, tokens_of
from tandem.core.tokens import token_revoke as revoke
from tandem.core.two_factor import (
    qr_svg,
    secret_of,
    two_factor_device,
    two_factor_draft,
    two_factor_required,
)


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _safe_next(request: HttpRequest, fallback: str) -> str:
    """Where to go after signing in: a path on this site (starting with one "/"), else the
    fallback. Never a view name or a relative address (`next=foo` once made sign-in fail)."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if (
        target.startswith("/")
        and not target.startswith("//")
        and "\x00" not in target
        and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        return target
    return fallback


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    """Sign-in, first step: the password. Lockout is django-axes' (`core.lockout`); a user with
    two-factor on goes on to the code step (`account_views.login_code`) before signing in."""
    if request.user.is_authenticated:
        return HttpResponseRedirect(_safe_next(request, resolve_url(settings.LOGIN_REDIRECT_URL)))
    form = LoginForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        username = form.cleaned_data["username"]
        user = authenticate(request, username=username, password=form.cleaned_data["password"])
        if getattr(request, "axes_locked_out", False):
            form.add_error(None, locked_message())
            status = LOCKED_STATUS
        elif user is None:
            services.login_failure_record(username=username, ip=client_address(request) or None)
            form.add_error(None, _("The username or password is not right."))
        else:
            target = _safe_next(request, resolve_url(settings.LOGIN_REDIRECT_URL))
            if two_factor_device(user) is not None:
                sign_in_pending_set(request, user=user, next_url=target)
                return redirect("core:login_code")
            sign_in_complete(request, user)
            return HttpResponseRedirect(target)
    elif request.method == "POST":
        status = 400
    return render(
        request, "core/login.html", {"form": form, "next": _safe_next(request, "")}, status=status
    )


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    language = request.session.get(SESSION_KEY)
    logout(request)
    if language:
        request.session[SESSION_KEY] = language
    return redirect("core:login")


@require_POST
def language_switch(request: HttpRequest) -> HttpResponse:
    language = request.POST.get("language", "")
    if language not in dict(settings.LANGUAGES):
        return HttpResponse(_("Unknown language."), status=400, content_type="text/plain")
    request.session[SESSION_KEY] = language
    if request.user.is_authenticated:
        services.user_language_set(user=_user(request), language=language)
    translation.activate(language)
    return HttpResponseRedirect(_safe_next(request, resolve_url(settings.LOGIN_REDIRECT_URL)))


def _require(request: HttpRequest, permission: str) -> User:
    user = _user(request)
    if not can(user, permission):
        raise PermissionDenied
    return user


@login_required
@require_http_methods(["GET", "POST"])
def organisation_settings(request: HttpRequest) -> HttpResponse:
    user = _require(request, "manage_settings")
    org = Organisation.current()
    form = OrganisationForm(request.POST or None, initial=OrganisationForm.initial_for(org))
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = {
                k: form.cleaned_data[k]
                for k in (
                    "name",
                    "currency",
                    "time_zone",
                    "language",
                    "fiscal_year_start_month",
                    "business_hours",
                    "require_admin_two_factor",
                )
            }
            try:
                services.organisation_update(actor=Actor(user=user), **data)
            except InvalidInput as exc:
                apply_invalid_input(form, exc, {"business_hours": "__all__"})
            else:
                messages.success(request, _("Settings saved."))
                return redirect("core:settings")
        status = 400
    return render(
        request,
        "core/settings.html",
        {
            "form": form,
            "holiday_form": HolidayForm(),
            "holidays": Holiday.objects.all(),
        },
        status=status,
    )


@login_required
@require_POST
def holiday_add(request: HttpRequest) -> HttpResponse:
    user = _require(request, "manage_settings")
    form = HolidayForm(request.POST)
    if form.is_valid():
        try:
            services.holiday_add(
                actor=Actor(user=user),
                date=form.cleaned_data["date"],
                name=form.cleaned_data["name"],
            )
        except InvalidInput as exc:
            apply_invalid_input(form, exc, {})
        else:
            messages.success(request, _("Holiday added."))
            return redirect("core:settings")
    org = Organisation.current()
    return render(
        request,
        "core/settings.html",
        {
            "form": OrganisationForm(initial=OrganisationForm.initial_for(org)),
            "holiday_form": form,
            "holidays": Holiday.objects.all(),
        },
        status=400,
    )


@login_required
@require_POST
def holiday_remove(request: HttpRequest, pk: int) -> HttpResponse:
    user = _require(request, "manage_settings")
    try:
        services.holiday_remove(actor=Actor(user=user), holiday_id=pk)
    except InvalidInput:
        messages.error(request, _("That holiday no longer exists."))
    else:
        messages.success(request, _("Holiday removed."))
    return redirect("core:settings")


@login_required
def audit_log(request: HttpRequest) -> HttpResponse:
    _require(request, "view_audit")
    form = AuditFilterForm(request.GET or None)
    qs = AuditEntry.objects.select_related("actor")
    if form.is_valid():
        data = form.cleaned_data
        if data["model"]:
            qs = qs.filter(model__icontains=data["model"])
        if data["action"]:
            qs = qs.filter(action=data["action"])
        if data["actor"]:
            qs = qs.filter(actor__username=data["actor"])
        if data["object_id"]:
            qs = qs.filter(object_id=data["object_id"])
        tz = timezone.get_current_timezone()
        if data["date_from"]:
            qs = qs.filter(at__gte=dt.datetime.combine(data["date_from"], dt.time.min, tz))
        if data["date_to"]:
            qs = qs.filter(
                at__lt=dt.datetime.combine(data["date_to"] + dt.timedelta(days=1), dt.time.min, tz)
            )
    page = keyset_page(
        qs, order=["-at", "-id"], cursor=request.GET.get("cursor"), size=50, salt="audit"
    )
    rows = audit_rows(page.items)
    return render(request, "core/audit_log.html", {"form": form, "page": page, "rows": rows})


def _in_words(field: Any, value: Any) -> tuple[Any, bool]:
    """A stored value as its field shows it, and whether that is words: a choice by its label
    (each of a list's too), yes or no; anything else as it was stored."""
    if isinstance(value, bool):
        return (_("yes") if value else _("no")), True
    choices = dict(getattr(field, "flatchoices", None) or ())
    if choices and isinstance(value, list) and all(item in choices for item in value):
        return ", ".join(str(choices[item]) for item in value), True
    if choices and isinstance(value, str | int) and value in choices:
        return choices[value], True
    return value, value is None


def _named(thing: Any) -> bool:
    """Whether a field or model was given a (translatable) name, not one derived from its
    attribute name in English."""
    if isinstance(thing, models.Field):
        return thing._verbose_name is not None  # type: ignore[attr-defined]
    return "verbose_name" in getattr(getattr(thing, "_meta", None), "original_attrs", {})


def audit_rows(entries: list[AuditEntry]) -> list[dict[str, Any]]:
    """Audit entries for the page: the record's kind and each changed field by the names they
    were given in the reader's language, choices by their labels, yes/no; what has no name in
    words (a field named only in code, a stored value) is shown as code."""
    known = {model._meta.label: model for model in apps.get_models()}
    rows = []
    for entry in entries:
        model = known.get(entry.model)
        fields: dict[str, Any] = {}
        for known_field in model._meta.get_fields() if model else ():
            fields[known_field.name] = known_field
            fields.setdefault(getattr(known_field, "attname", known_field.name), known_field)
        changes = []
        for key, pair in (entry.changes or {}).items():
            field = fields.get(key)
            before, after = pair if isinstance(pair, list) and len(pair) == 2 else (None, pair)
            label = capfirst(str(field.verbose_name)) if field and _named(field) else ""
            before, before_words = _in_words(field, before)
            after, after_words = _in_words(field, after)
            changes.append(
                {
                    "key": key,
                    "label": label,
                    "before": before,
                    "before_words": before_words,
                    "after": after,
                    "after_words": after_words,
                }
            )
        kind = ""
        if model is not None and _named(model):
            kind = capfirst(str(model._meta.verbose_name))
        rows.append(
            {
                "entry": entry,
                "kind": kind,
                "changes": changes,
            }
        )
    return rows


@login_required
def task_health(request: HttpRequest) -> HttpResponse:
    _require(request, "manage_background_work")
    summary = task_health_summary(failed=100)
    return render(request, "core/task_health.html", {"task_health": summary})


@login_required
@require_POST
def task_retry(request: HttpRequest, task_id: uuid.UUID) -> HttpResponse:
    _require(request, "manage_background_work")
    try:
        retry_task(actor=Actor.of(request), task_id=str(task_id))
    except DBTaskResult.DoesNotExist:
        raise Http404 from None
    except InvalidInput as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The task is queued to run again."))
    return redirect("core:task_health")


def _tokens_context(user: User, **extra: Any) -> dict[str, Any]:
    return {
        "tokens": tokens_of(user),
        "form": extra.pop("form", TokenForm()),
        "now": timezone.now(),
        **extra,
    }


@login_required
@require_http_methods(["GET", "POST"])
def tokens(request: HttpRequest) -> HttpResponse:
    """List the user's own tokens; POST creates one and shows its secret this once only."""
    user = _require(request, "use_api_tokens")
    if request.method == "GET":
        return render(request, "core/tokens.html", _tokens_context(user))
    form = TokenForm(request.POST)
    if form.is_valid():
        try:
            created = token_create(
                actor=Actor(user=user),
                user=user,
                name=form.cleaned_data["name"],
                scope=form.cleaned_data["scope"],
                expires_at=form.expires_at(),
            )
        except InvalidInput as exc:
            apply_invalid_input(form, exc, {})
        else:
            response = render(
                request,
                "core/tokens.html",
                _tokens_context(user, new_token=created.token, secret=created.secret),
            )
            response["Cache-Control"] = "no-store"
            return response
    return render(request, "core/tokens.html", _tokens_context(user, form=form), status=400)


@login_required
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    user = _require(request, "use_api_tokens")
    token = get_object_or_404(tokens_of(user), pk=pk)
    revoke(actor=Actor(user=user), token=token)
    messages.success(request, _("Token revoked. Programs using it can no longer sign in."))
    return redirect("core:tokens")


# --- people and teams -----------------------------------------------------------------------


def _people_context(**forms_: Any) -> dict[str, Any]:
    return {
        "users": User.objects.select_related("team").order_by(
            "-is_active", "first_name", "last_name", "username"
        ),
        "teams": Team.objects.all(),
        "invite_form": forms_.get("invite_form") or UserInviteForm(),
        "team_form": forms_.get("team_form") or TeamForm(),
    }


@login_required
def people(request: HttpRequest) -> HttpResponse:
    """Users (name, email, role, team, active, last sign-in) and teams, with the invite and
    new-team forms."""
    _require(request, "manage_users")
    return render(request, "core/people.html", _people_context())


@login_required
@require_POST
def user_invite(request: HttpRequest) -> HttpResponse:
    user = _require(request, "manage_users")
    form = UserInviteForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            invited = services.user_invite(
                actor=Actor(user=user),
                email=data["email"],
                role=data["role"],
                team_id=data["team"].pk if data["team"] else None,
                first_name=data["first_name"],
                last_name=data["last_name"],
                site_url=site_url_of(request),
            )
        except InvalidInput as exc:
            apply_invalid_input(form, exc, {})
        else:
            messages.success(
                request,
                _("Invitation sent to %(email)s: they choose their password from the link.")
                % {"email": invited.email},
            )
            return redirect("core:people")
    return render(request, "core/people.html", _people_context(invite_form=form), status=400)


@login_required
@require_POST
def team_create(request: HttpRequest) -> HttpResponse:
    user = _require(request, "manage_users")
    form = TeamForm(request.POST)
    if form.is_valid():
        try:
            services.team_create(actor=Actor(user=user), **form.cleaned_data)
        except InvalidInput as exc:
            apply_invalid_input(form, exc, {})
        else:
            messages.success(request, _("Team created."))
            return redirect("core:people")
    return render(request, "core/people.html", _people_context(team_form=form), status=400)


@login_required
@require_http_methods(["GET", "POST"])
def team_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = _require(request, "manage_users")
    team = get_object_or_404(Team, pk=pk)
    initial = {"name": team.name, "department": team.department, "region": team.region}
    form = TeamForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.team_update(actor=Actor(user=user), team_id=team.pk, **form.cleaned_data)
            except InvalidInput as exc:
                apply_invalid_input(form, exc, {})
            else:
                messages.success(request, _("Team saved."))
                return redirect("core:people")
        status = 400
    members = team.members.order_by("first_name", "last_name", "username")
    return render(
        request,
        "core/team_edit.html",
        {"team": team, "form": form, "members": members},
        status=status,
    )


def user_edit_page(
    request: HttpRequest,
    person: User,
    change_form: UserChangeForm | None = None,
    deactivate_form: UserDeactivateForm | None = None,
    reset_form: TwoFactorResetForm | None = None,
    status: int = 200,
) -> HttpResponse:
    """A person's page for those who manage users (also rendered by `account_views`)."""
    return render(
        request,
        "core/user_edit.html",
        {
            "person": person,
            "change_form": change_form
            or UserChangeForm(initial=UserChangeForm.initial_for(person)),
            "deactivate_form": deactivate_form or UserDeactivateForm(leaving=person),
            "owned": [(kind.label, count) for kind, count in owned_counts(person)],
            "two_factor_on": two_factor_device(person) is not None,
            "is_self": person.pk == request.user.pk,
            "reset_form": reset_form or TwoFactorResetForm(),
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def user_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """A person's role, team and name (POST), what they own and the deactivation form."""
    user = _require(request, "manage_users")
    person = get_object_or_404(User.objects.select_related("team"), pk=pk)
    if request.method == "GET":
        return user_edit_page(request, person)
    form = UserChangeForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.user_change(
                actor=Actor(user=user),
                user_id=person.pk,
                role=data["role"],
                team_id=data["team"].pk if data["team"] else None,
                first_name=data["first_name"],
                last_name=data["last_name"],
            )
        except InvalidInput as exc:
            apply_invalid_input(form, exc, {})
        else:
            messages.success(request, _("Changes saved."))
            return redirect("core:user_edit", pk=person.pk)
    return user_edit_page(request, person, change_form=form, status=400)


@login_required
@require_POST
def user_invite_resend(request: HttpRequest, pk: int) -> HttpResponse:
    user = _require(request, "manage_users")
    person = get_object_or_404(User, pk=pk)
    try:
        services.user_invite_resend(
            actor=Actor(user=user), user_id=person.pk, site_url=site_url_of(request)
        )
    except InvalidInput as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, _("Invitation sent to %(email)s again.") % {"email": person.email}
        )
    return redirect("core:user_edit", pk=person.pk)


@login_required
@require_POST
def user_deactivate(request: HttpRequest, pk: int) -> HttpResponse:
    user = _require(request, "manage_users")
    person = get_object_or_404(User, pk=pk)
    form = UserDeactivateForm(request.POST, leaving=person)
    if form.is_valid():
        successor = form.cleaned_data["successor"]
        try:
            moved = services.user_deactivate(
                actor=Actor(user=user),
                user_id=person.pk,
                successor_id=successor.pk if successor else None,
            )
        except InvalidInput as exc:
            apply_invalid_input(form, exc, {"user": "__all__"})
        else:
            messages.success(
                request,
                _("%(name)s is deactivated; %(count)d records were handed over.")
                % {"name": person.get_full_name() or person.username, "count": sum(moved.values())},
            )
            return redirect("core:people")
    return user_edit_page(request, person, deactivate_form=form, status=400)


class SetPasswordView(PasswordResetConfirmView):
    """Django's password-reset confirmation, as the target of an invitation link: the token
    check, the session step that keeps the token out of the address bar, `SetPasswordForm` and
    its validators are Django's; the write goes through `services.user_password_set`."""

    template_name = "core/password_set.html"
    success_url = reverse_lazy("core:login")

    def get_user(self, uidb64: str) -> Any:
        user = super().get_user(uidb64)
        return user if user is not None and user.is_active else None

    def form_valid(self, form: Any) -> HttpResponse:
        person = form.user
        services.user_password_set(
            actor=Actor(user=person), user=person, password=form.cleaned_data["new_password1"]
        )
        del self.request.session[INTERNAL_RESET_SESSION_TOKEN]
        messages.success(self.request, _("Your password is set. Sign in with it now."))
        return HttpResponseRedirect(self.get_success_url())


def profile_page(
    request: HttpRequest,
    *,
    form: ProfileForm | None = None,
    code_form: TwoFactorCodeForm | None = None,
    off_form: TwoFactorCodeForm | None = None,
    codes_form: RecoveryCodesForm | None = None,
    status: int = 200,
) -> HttpResponse:
    """My profile, with its two-factor section (the set-up QR code while a draft exists; once
    on, the recovery codes left and the form for new ones)."""
    user = _user(request)
    form = form or ProfileForm(
        initial=ProfileForm.initial_for(user), organisation_zone=organisation_time_zone()
    )
    device = two_factor_device(user)
    draft = None if device else two_factor_draft(user)
    codes_left = recovery_codes_left(user) if device else 0
    return render(
        request,
        "core/profile.html",
        {
            "form": form,
            "zone": timezone.get_current_timezone_name(),
            "now": timezone.now(),
            "two_factor_on": device is not None,
            "two_factor_required": two_factor_required(user),
            "draft_qr": qr_svg(draft) if draft else "",
            "draft_secret": secret_of(draft) if draft else "",
            "code_form": code_form or TwoFactorCodeForm(),
            "off_form": off_form or TwoFactorCodeForm(),
            "codes_form": codes_form or RecoveryCodesForm(),
            "codes_left": codes_left,
            "codes_few": codes_left <= FEW_LEFT,
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    """My profile: name, language and time zone; two-factor sign-in (`account_views`)."""
    user = _user(request)
    if request.method == "GET":
        return profile_page(request)
    form = ProfileForm(request.POST, organisation_zone=organisation_time_zone())
    if form.is_valid():
        try:
            services.user_profile_update(user=user, **form.cleaned_data)
        except InvalidInput as exc:
            apply_invalid_input(form, exc, {})
        else:
            language = user.language or Organisation.current().language
            request.session[SESSION_KEY] = language
            translation.activate(language)
            messages.success(request, _("Profile saved."))
            return redirect("core:profile")
    return profile_page(request, form=form, status=400)
