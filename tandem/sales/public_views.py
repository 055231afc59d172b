"""Pages a buyer opens without an account: a quote at its signed link, and the price request.

Invariants: a forged, altered or withdrawn link is a 404; an expired quote shows a clear page
and cannot be accepted (the service refuses it too); every write goes through a service; the
buyer's address is `core.client_address` (REMOTE_ADDR, or X-Forwarded-For behind
TANDEM_TRUSTED_PROXIES proxies; see docs/operations.md).
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tandem.core.api_auth import check_rate_limit
from tandem.core.api_errors import ApiError
from tandem.core.client_address import client_address
from tandem.core.errors import InvalidInput
from tandem.core.forms import apply_invalid_input
from tandem.core.models import Organisation
from tandem.core.ratelimit import email_rate_limit_hit
from tandem.sales import catalogue, quotes, selfservice
from tandem.sales.forms import AcceptForm, PriceRequestForm, QuestionForm
from tandem.sales.models import Quote, QuoteStatus

PUBLIC_RATE_PER_MINUTE = 30


def _ip(request: HttpRequest) -> str | None:
    return client_address(request) or None


def _address_limited(email: str) -> HttpResponse | None:
    """429 with Retry-After when Tandem mailed `email` its share for now (from anywhere)."""
    if not email.strip():
        return None
    verdict = email_rate_limit_hit(email)
    if not verdict.limited:
        return None
    response = HttpResponse(_("Too many requests. Try again later."), status=429)
    response["Retry-After"] = str(max(1, int(verdict.retry_after + 0.999)))
    return response


def _limited(request: HttpRequest) -> bool:
    try:
        check_rate_limit(f"sales-public:{_ip(request)}", limit=PUBLIC_RATE_PER_MINUTE)
    except ApiError:
        return True
    return False


def _quote(token: str) -> Quote:
    quote = quotes.quote_from_token(token)
    if quote is None or quote.status in (QuoteStatus.DRAFT, QuoteStatus.WITHDRAWN):
        raise Http404
    return quote


def _page(
    request: HttpRequest,
    quote: Quote,
    token: str,
    status: int = 200,
    accept: AcceptForm | None = None,
    question: QuestionForm | None = None,
) -> HttpResponse:
    expired = quote.is_expired()
    return render(
        request,
        "sales/public_quote.html",
        {
            "quote": quote,
            "token": token,
            "expired": expired,
            "lines": quote.lines.all(),
            "accept_form": accept or AcceptForm(),
            "question_form": question or QuestionForm(),
            "asked": request.GET.get("asked") == "1",
        },
        status=410 if expired and status == 200 else status,
    )


def quote_page(request: HttpRequest, token: str) -> HttpResponse:
    quote = _quote(token)
    if not quote.is_expired():
        quotes.quote_viewed(quote=quote, ip=_ip(request))
    return _page(request, quote, token)


def quote_public_pdf(request: HttpRequest, token: str) -> HttpResponse:
    quote = _quote(token)
    if quote.is_expired():
        # Like the page: an expired offer is gone (410), its PDF is not handed out any more.
        return HttpResponse(
            _("This quote has expired."), status=410, content_type="text/plain; charset=utf-8"
        )
    response = HttpResponse(quotes.quote_pdf(quote), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{quote.number}.pdf"'
    return response


@require_POST
def quote_accept(request: HttpRequest, token: str) -> HttpResponse:
    quote = _quote(token)
    if _limited(request):
        return HttpResponse(_("Too many requests. Try again in a minute."), status=429)
    form = AcceptForm(request.POST)
    if not form.is_valid():
        return _page(request, quote, token, status=400, accept=form)
    try:
        quotes.quote_accept(quote=quote, name=form.cleaned_data["name"], ip=_ip(request))
    except InvalidInput as exc:
        form.add_error(None, exc.message)
        return _page(
            request, quote, token, status=409 if exc.code == "accepted" else 410, accept=form
        )
    return redirect(reverse("sales_public:quote", args=[token]))


@require_POST
def quote_question(request: HttpRequest, token: str) -> HttpResponse:
    quote = _quote(token)
    if _limited(request):
        return HttpResponse(_("Too many requests. Try again in a minute."), status=429)
    form = QuestionForm(request.POST)
    if not form.is_valid():
        return _page(request, quote, token, status=400, question=form)
    owner = quote.deal.owner
    # each question is emailed to the deal's owner: limited per that address, whoever asks
    refused = _address_limited(owner.email if owner is not None else "")
    if refused is not None:
        return refused
    try:
        quotes.quote_ask(
            quote=quote,
            name=form.cleaned_data["name"],
            text=form.cleaned_data["text"],
            ip=_ip(request),
        )
    except InvalidInput as exc:
        form.add_error(None, exc.message)
        return _page(request, quote, token, status=400, question=form)
    return redirect(reverse("sales_public:quote", args=[token]) + "?asked=1")


def price_request(request: HttpRequest) -> HttpResponse:
    products = catalogue.offered_products(
        catalogue.business_date(), Organisation.current().currency, self_service=True
    )
    form = PriceRequestForm(request.POST or None, products=products)
    status = 200
    if request.method == "POST":
        status = 400
        if _limited(request):
            return HttpResponse(_("Too many requests. Try again in a minute."), status=429)
        # a quote goes to this address: limited per address, whoever asks
        refused = _address_limited(str(request.POST.get("email") or ""))
        if refused is not None:
            return refused
        if form.is_valid():
            data = form.cleaned_data
            try:
                _deal, quote, _handed = selfservice.price_request_with_quote(
                    email=data["email"],
                    product_id=data["product"],
                    quantity=data["quantity"],
                    first_name=data["first_name"],
                    last_name=data["last_name"],
                    company=data["company"],
                    message=data["message"],
                    talk_to_sales=data["talk_to_sales"],
                    ip=_ip(request),
                )
            except InvalidInput as exc:
                apply_invalid_input(form, exc, {"product_id": "product"})
            else:
                return redirect(reverse("sales_public:quote", args=[quotes.public_token(quote)]))
    return render(
        request, "sales/price_request.html", {"form": form, "now": timezone.now()}, status=status
    )
