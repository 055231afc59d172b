"""Account security pages: the two-factor code step of sign-in, setting two-factor up and
turning it off (sections of My profile), and the password-reset request. Thin: parse, call
`core.two_factor` / enqueue `core.tasks.password_reset_send`, render."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import PasswordResetDoneView, PasswordResetView
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login

from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.forms import TwoFactorCodeForm, apply_invalid_input
from tandem.core.invitations import site_url_of
from tandem.core.models import User
from tandem.core.sign_in import sign_in_complete, sign_in_pending, sign_in_pending_clear
from tandem.core.tasks import enqueue_on_commit, password_reset_send
from tandem.core.two_factor import (
    two_factor_confirm,
    two_factor_disable,
    two_factor_start,
    two_factor_verify,
)
from tandem.core.views import profile_page


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


@never_cache
@require_http_methods(["GET", "POST"])
def login_code(request: HttpRequest) -> HttpResponse:
    """Sign-in, second step for users with two-factor on: a current code from their app."""
    pending = sign_in_pending(request)
    if pending is None:
        return redirect("core:login")
    user, next_url = pending
    form = TwoFactorCodeForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                device = two_factor_verify(user=user, code=form.cleaned_data["code"])
            except InvalidInput as exc:
                apply_invalid_input(form, exc, {})
                status = 429
            else:
                if device is not None:
                    sign_in_pending_clear(request)
                    sign_in_complete(request, user, device)
                    return HttpResponseRedirect(next_url)
                form.add_error("code", _("The code is not right."))
    return render(request, "core/login_code.html", {"form": form}, status=status)


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
            device = two_factor_confirm(
                actor=Actor(user=user), user=user, code=form.cleaned_data["code"]
            )
        except InvalidInput as exc:
            apply_invalid_input(form, exc, {})
        else:
            otp_login(request, device)
            messages.success(request, _("Two-factor sign-in is on."))
            return redirect("core:profile")
    return profile_page(request, code_form=form, status=400)


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
