"""Account security pages: the two-factor code step of sign-in (the app's code or a recovery
code; wrong ones count toward the sign-in lockout like wrong passwords), setting two-factor up,
new recovery codes and turning it off (sections of My profile), an admin's reset of someone's
two-factor (the user's page), and the password-reset request. Thin: parse, call
`core.two_factor` / enqueue `core.tasks.password_reset_send`, render."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from axes.handlers.proxy import AxesProxyHandler
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.signals import user_login_failed
from django.contrib.auth.views import PasswordResetDoneView, PasswordResetView
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice

from tandem.core.access import can
from tandem.core.audit import Actor
from tandem.core.client_address import client_address
from tandem.core.errors import InvalidInput
from tandem.core.forms import (
    RecoveryCodesForm,
    SignInCodeForm,
    TwoFactorCodeForm,
    TwoFactorResetForm,
    apply_invalid_input,
)
from tandem.core.invitations import site_url_of
from tandem.core.lockout import LOCKED_STATUS, locked_message
from tandem.core.models import User
from tandem.core.recovery_codes import FEW_LEFT, recovery_codes_left, recovery_codes_text
from tandem.core.services import login_failure_record
from tandem.core.sign_in import sign_in_complete, sign_in_pending, sign_in_pending_clear
from tandem.core.tasks import enqueue_on_commit, password_reset_send
from tandem.core.two_factor import (
    recovery_codes_regenerate,
    two_factor_disable,
    two_factor_reset,
    two_factor_start,
    two_factor_turn_on,
    two_factor_verify,
)
from tandem.core.views import profile_page, user_edit_page


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


@never_cache
@require_http_methods(["GET", "POST"])
def login_code(request: HttpRequest) -> HttpResponse:
    """Sign-in, second step for users with two-factor on: a current code from their app, or one
    of their recovery codes (once). A wrong code is a failed sign-in for the lockout (axes)."""
    pending = sign_in_pending(request)
    if pending is None:
        return redirect("core:login")
    user, next_url = pending
    form = SignInCodeForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        credentials = {"username": user.get_username()}
        if AxesProxyHandler.is_locked(request, credentials):
            return _locked_out(request, form)
        if form.is_valid():
            try:
                device = two_factor_verify(user=user, code=form.cleaned_data["code"])
            except InvalidInput as exc:  # throttled: a failed attempt all the same
                apply_invalid_input(form, exc, {})
                status = 429
                device = None
            if device is not None:
                sign_in_pending_clear(request)
                sign_in_complete(request, user, device)
                if isinstance(device, StaticDevice):
                    _recovery_code_used_message(request, user)
                return HttpResponseRedirect(next_url)
            user_login_failed.send(sender=__name__, credentials=credentials, request=request)
            login_failure_record(username=user.get_username(), ip=client_address(request) or None)
            if getattr(request, "axes_locked_out", False):
                return _locked_out(request, form)
            if status != 429:
                form.add_error("code", _("The code is not right."))
    return render(request, "core/login_code.html", {"form": form}, status=status)


def _locked_out(request: HttpRequest, form: SignInCodeForm) -> HttpResponse:
    sign_in_pending_clear(request)
    form.errors.clear()
    form.add_error(None, locked_message())
    return render(request, "core/login_code.html", {"form": form}, status=LOCKED_STATUS)


def _recovery_code_used_message(request: HttpRequest, user: User) -> None:
    left = recovery_codes_left(user)
    text = ngettext(
        "You signed in with a recovery code: %(count)d is left.",
        "You signed in with a recovery code: %(count)d are left.",
        left,
    ) % {"count": left}
    if left <= FEW_LEFT:
        text += " " + _("Make new ones on My profile.")
        messages.warning(request, text)
    else:
        messages.info(request, text)


def _codes_page(request: HttpRequest, user: User, codes: list[str]) -> HttpResponse:
    """The new recovery codes, shown once (never cached), with the same text to download."""
    text = recovery_codes_text(codes, username=user.get_username())
    response = render(
        request,
        "core/recovery_codes.html",
        {"codes": codes, "download_href": "data:text/plain;charset=utf-8," + quote(text)},
    )
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def two_factor_begin(request: HttpRequest) -> HttpResponse:
    try:
        two_factor_start(user=_user(request))
    except InvalidInput as exc:
        messages.error(request, "; ".join(str(m) for ms in exc.errors.values() for m in ms))
    return redirect("/profile/#two-factor")


@login_required
@require_POST
def two_factor_finish(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = TwoFactorCodeForm(request.POST)
    if form.is_valid():
        try:
            turned_on = two_factor_turn_on(
                actor=Actor(user=user), user=user, code=form.cleaned_data["code"]
            )
        except InvalidInput as exc:
            apply_invalid_input(form, exc, {})
        else:
            otp_login(request, turned_on.device)
            messages.success(request, _("Two-factor sign-in is on."))
            return _codes_page(request, user, turned_on.recovery_codes)
    return profile_page(request, code_form=form, status=400)


@never_cache
@login_required
@require_POST
def recovery_codes_new(request: HttpRequest) -> HttpResponse:
    """New recovery codes from My profile (the password or a current code proves it is you)."""
    user = _user(request)
    form = RecoveryCodesForm(request.POST)
    if form.is_valid():
        try:
            codes = recovery_codes_regenerate(
                actor=Actor(user=user),
                user=user,
                password=form.cleaned_data["password"],
                code=form.cleaned_data["code"] or "",
            )
        except InvalidInput as exc:
            apply_invalid_input(form, exc, {})
        else:
            messages.success(request, _("New recovery codes: the old ones no longer work."))
            return _codes_page(request, user, codes)
    return profile_page(request, codes_form=form, status=400)


@login_required
@require_POST
def two_factor_turn_off(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = TwoFactorCodeForm(request.POST)
    if form.is_valid():
        try:
            two_factor_disable(actor=Actor(user=user), user=user, code=form.cleaned_data["code"])
        except InvalidInput as exc:
            apply_invalid_input(form, exc, {})
        else:
            messages.success(request, _("Two-factor sign-in is off."))
            return redirect("core:profile")
    return profile_page(request, off_form=form, status=400)


@login_required
@require_POST
def two_factor_reset_for(request: HttpRequest, pk: int) -> HttpResponse:
    """An admin resets someone's two-factor sign-in (the user's page): audited."""
    admin = _user(request)
    if not can(admin, "manage_users"):
        raise PermissionDenied
    person = get_object_or_404(User, pk=pk)
    form = TwoFactorResetForm(request.POST)
    if form.is_valid():
        try:
            two_factor_reset(actor=Actor(user=admin), user_id=person.pk)
        except InvalidInput as exc:
            apply_invalid_input(form, exc, {})
        else:
            messages.success(
                request,
                _("Two-factor sign-in of %(person)s is reset: they can set it up again.")
                % {"person": person},
            )
            return redirect("core:user_edit", pk=person.pk)
    return user_edit_page(request, person, reset_form=form, status=400)


class PasswordResetRequestView(PasswordResetView):
    """Django's password-reset request page, answered the same for any well-formed address: the
    form only enqueues `password_reset_send` (the worker looks the address up and mails)."""

    template_name = "core/password_reset.html"
    success_url = reverse_lazy("core:password_reset_sent")

    def form_valid(self, form: Any) -> HttpResponse:
        enqueue_on_commit(
            password_reset_send,
            email=form.cleaned_data["email"],
            site_url=site_url_of(self.request),
        )
        return HttpResponseRedirect(self.get_success_url())

    def form_invalid(self, form: Any) -> HttpResponse:
        return self.render_to_response(self.get_context_data(form=form), status=400)


class PasswordResetSentView(PasswordResetDoneView):
    template_name = "core/password_reset_sent.html"
