"""The catalogue's settings pages: products (create, edit, archive) and price lists (currency,
tax rate, validity, the price of each product). Thin: a form parses, `tandem.sales.catalogue`
decides and audits. Every page needs the `manage_catalogue` capability (403 without it)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from tandem.core.access import can, request_user
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.forms import apply_invalid_input
from tandem.core.models import Organisation
from tandem.sales import catalogue
from tandem.sales.forms import PriceForm, PriceListForm, ProductForm
from tandem.sales.models import Price, PriceList, Product

CAPABILITY = "manage_catalogue"
# The catalogue page shows both "new" forms at once: each has its own prefix, so its fields'
# names and ids (product-name, price_list-name) never collide.
PRODUCT_PREFIX = "product"
PRICE_LIST_PREFIX = "price_list"


def _actor(request: HttpRequest) -> Actor:
    user = request_user(request)
    if not can(user, CAPABILITY):
        raise PermissionDenied
    return Actor(user=user)


def _catalogue_page(request: HttpRequest, status: int = 200, **forms_: Any) -> HttpResponse:
    today = catalogue.business_date()
    offered = set(catalogue.offered_price_lists(today).values_list("pk", flat=True))
    price_lists = list(PriceList.objects.annotate(n_prices=Count("prices")))
    for price_list in price_lists:
        price_list.offered = price_list.pk in offered  # type: ignore[attr-defined]
    return render(
        request,
        "sales/catalogue.html",
        {
            "products": Product.objects.annotate(n_prices=Count("prices")).order_by(
                "-active", "name", "id"
            ),
            "price_lists": price_lists,
            "today": today,
            "product_form": forms_.get("product_form") or ProductForm(prefix=PRODUCT_PREFIX),
            "price_list_form": forms_.get("price_list_form")
            or PriceListForm(
                prefix=PRICE_LIST_PREFIX,
                initial={"currency": Organisation.current().currency},
            ),
        },
        status=status,
    )


@login_required
def catalogue_page(request: HttpRequest) -> HttpResponse:
    _actor(request)
    return _catalogue_page(request)


@login_required
@require_POST
def product_create(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    form = ProductForm(request.POST, prefix=PRODUCT_PREFIX)
    if form.is_valid():
        try:
            product = catalogue.product_create(actor=actor, **form.cleaned_data)
        except InvalidInput as exc:
            apply_invalid_input(form, exc, {})
        else:
            messages.success(request, _("Product %(name)s created.") % {"name": product.name})
            return redirect("sales:catalogue")
    return _catalogue_page(request, status=400, product_form=form)


@login_required
@require_http_methods(["GET", "POST"])
def product_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    product = get_object_or_404(Product, pk=pk)
    initial = {
        "sku": product.sku,
        "name": product.name,
        "description": product.description,
        "self_service": product.self_service,
    }
    form = ProductForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                catalogue.product_update(actor=actor, product_id=product.pk, **form.cleaned_data)
            except InvalidInput as exc:
                apply_invalid_input(form, exc, {})
            else:
                messages.success(request, _("Product saved."))
                return redirect("sales:catalogue")
        status = 400
    prices = Price.objects.filter(product=product).select_related("price_list")
    return render(
        request,
        "sales/product_edit.html",
        {"product": product, "form": form, "prices": prices},
        status=status,
    )


def _state(state: str) -> bool:
    if state not in ("archive", "restore"):
        raise Http404
    return state == "restore"


@login_required
@require_POST
def product_archive(request: HttpRequest, pk: int, state: str) -> HttpResponse:
    """Archive a product (no longer offered on new lines or online) or restore it."""
    active = _state(state)
    actor = _actor(request)
    product = get_object_or_404(Product, pk=pk)
    catalogue.product_update(actor=actor, product_id=product.pk, active=active)
    messages.success(request, _("Product restored.") if active else _("Product archived."))
    return redirect("sales:catalogue")


@login_required
@require_POST
def price_list_create(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    form = PriceListForm(request.POST, prefix=PRICE_LIST_PREFIX)
    if form.is_valid():
        data = dict(form.cleaned_data)
        data["currency_code"] = data.pop("currency")
        try:
            price_list = catalogue.price_list_create(actor=actor, **data)
        except InvalidInput as exc:
            apply_invalid_input(form, exc, {})
        else:
            messages.success(request, _("Price list created: now give it prices."))
            return redirect("sales:price_list_edit", pk=price_list.pk)
    return _catalogue_page(request, status=400, price_list_form=form)


def _price_list_page(
    request: HttpRequest,
    price_list: PriceList,
    form: PriceListForm | None = None,
    price_form: PriceForm | None = None,
    status: int = 200,
) -> HttpResponse:
    initial = {
        "name": price_list.name,
        "currency": price_list.currency,
        "tax_percent": price_list.tax_percent,
        "valid_from": price_list.valid_from,
        "valid_until": price_list.valid_until,
        "is_default": price_list.is_default,
    }
    products = Product.objects.filter(active=True).order_by("name", "id")
    today = catalogue.business_date()
    return render(
        request,
        "sales/price_list_edit.html",
        {
            "price_list": price_list,
            "offered": catalogue.offered_price_lists(today).filter(pk=price_list.pk).exists(),
            "today": today,
            "form": form or PriceListForm(initial=initial),
            "price_form": price_form or PriceForm(products=products),
            "prices": price_list.prices.select_related("product").order_by("product__name"),
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def price_list_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    price_list = get_object_or_404(PriceList, pk=pk)
    if request.method == "GET":
        return _price_list_page(request, price_list)
    form = PriceListForm(request.POST)
    if form.is_valid():
        try:
            catalogue.price_list_update(
                actor=actor, price_list_id=price_list.pk, **form.cleaned_data
            )
        except InvalidInput as exc:
            apply_invalid_input(form, exc, {})
        else:
            messages.success(request, _("Price list saved."))
            return redirect("sales:price_list_edit", pk=price_list.pk)
    return _price_list_page(request, price_list, form=form, status=400)


@login_required
@require_POST
def price_list_archive(request: HttpRequest, pk: int, state: str) -> HttpResponse:
    active = _state(state)
    actor = _actor(request)
    price_list = get_object_or_404(PriceList, pk=pk)
    catalogue.price_list_update(actor=actor, price_list_id=price_list.pk, active=active)
    messages.success(request, _("Price list restored.") if active else _("Price list archived."))
    return redirect("sales:price_list_edit", pk=price_list.pk)


@login_required
@require_POST
def price_set(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    price_list = get_object_or_404(PriceList, pk=pk)
    products = Product.objects.filter(active=True).order_by("name", "id")
    form = PriceForm(request.POST, products=products)
    if form.is_valid():
        try:
            catalogue.price_set(
                actor=actor,
                price_list=price_list,
                product=products.get(pk=form.cleaned_data["product"]),
                unit_price=form.cleaned_data["unit_price"],
            )
        except InvalidInput as exc:
            apply_invalid_input(form, exc, {})
        else:
            messages.success(request, _("Price saved."))
            return redirect("sales:price_list_edit", pk=price_list.pk)
    return _price_list_page(request, price_list, price_form=form, status=400)


@login_required
@require_POST
def price_remove(request: HttpRequest, pk: int, product_id: int) -> HttpResponse:
    actor = _actor(request)
    price_list = get_object_or_404(PriceList, pk=pk)
    product = get_object_or_404(Product, pk=product_id)
    if catalogue.price_remove(actor=actor, price_list=price_list, product=product):
        messages.success(request, _("Price removed."))
    return redirect("sales:price_list_edit", pk=price_list.pk)
