"""The programmes operations under /api/v1/programmes (mounted in config/api.py): trainings,
field trials, loyalty and medical compliance. Thin: parse, call the service module, render.

Invariants:
- every operation needs `view_programmes`; writes need a write token and `run_programmes`,
  `manage_loyalty` or `manage_compliance` as the matching page does (403 `forbidden`);
- records bound to an account are found through `scoped` (404 when invisible, like missing);
- bad input is a 400 naming the field; a benefit a compliance rule forbids is a 400 with code
  `compliance_blocked` whose message names the rule.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from pydantic import ConfigDict, Field

from tandem.core.access import can, get_scoped, scoped
from tandem.core.api_auth import ApiCaller, caller
from tandem.core.api_errors import ApiError, Error
from tandem.core.errors import InvalidInput
from tandem.core.exports import record_export, to_csv
from tandem.crm.models import Account, Contact
from tandem.programmes import compliance, loyalty, selectors, trainings, trials
from tandem.programmes.models import (
    Attendance,
    ComplianceRule,
    Curriculum,
    FieldTrial,
    LoyaltyProgramme,
    Membership,
    PointsEntry,
    Redemption,
    RuleEffect,
    TrainingSession,
    TransferOfValue,
    TrialPlot,
)
from tandem.sales.models import Product

router = Router(tags=["programmes"])

READ_ERRORS: dict[int, Any] = {400: Error, 401: Error, 403: Error, 404: Error, 429: Error}
WRITE_ERRORS: dict[int, Any] = {**READ_ERRORS, 413: Error, 415: Error}
MAX_ID = 2**63 - 1
RecordId = Annotated[int, Field(ge=1, le=MAX_ID)]
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00]*$")]
Text = Annotated[str, Field(max_length=2000, pattern=r"^[^\x00]*$")]
Country = Annotated[str, Field(pattern=r"^[A-Za-z]{2}$")]
Currency = Annotated[str, Field(pattern=r"^[A-Za-z]{3}$")]
Money = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]
Amount = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=3)]
Points = Annotated[int, Field(ge=1, le=10_000_000)]
Months = Annotated[int, Field(ge=1, le=120)]
Year = Annotated[int, Field(ge=1900, le=2200)]


class Input(Schema):
    model_config = ConfigDict(extra="forbid")


def _who(request: HttpRequest, capability: str | None = None) -> ApiCaller:
    """The caller, holding `view_programmes` and (for a write) `capability` and a write token."""
    who = caller(request)
    if not can(who.user, "view_programmes"):
        raise ApiError(403, "forbidden", _("You may not see programmes."))
    if capability is not None and (not can(who.user, capability) or not who.can_write):
        raise ApiError(403, "forbidden", _("You may not change this."))
    return who


def _account(who: ApiCaller, pk: int) -> Account:
    return get_scoped(who.user, Account, pk)


# --- trainings --------------------------------------------------------------------------------


class CurriculumIn(Input):
    product_id: RecordId
    name: Name
    modules: Text = ""
    pass_mark: Annotated[int, Field(ge=0, le=100)] = 70
    valid_months: Months = 24


class CurriculumOut(Schema):
    id: int
    product_id: int
    name: str
    modules: str
    pass_mark: int
    valid_months: int
    active: bool


class SessionIn(Input):
    curriculum_id: RecordId
    mode: Literal["on_site", "centre", "online"]
    starts_at: dt.datetime
    ends_at: dt.datetime
    location: Annotated[str, Field(max_length=300)] = ""
    host_account_id: RecordId | None = None
    capacity: Annotated[int, Field(ge=1, le=10_000)] = 20


class SessionOut(Schema):
    id: int
    curriculum_id: int
    mode: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    location: str
    host_account_id: int | None
    capacity: int


class AttendeeIn(Input):
    contact_id: RecordId


class AttendanceIn(Input):
    attended: bool


class AssessmentIn(Input):
    score: Annotated[int, Field(ge=0, le=100)]


class AttendanceOut(Schema):
    id: int
    session_id: int
    contact_id: int
    account_id: int | None
    status: str
    score: int | None
    passed: bool
    certified_on: dt.date | None
    expires_on: dt.date | None
    certificate_url: str | None

    @staticmethod
    def resolve_certificate_url(obj: Attendance) -> str | None:
        return trainings.verify_path(obj) if obj.certificate_token else None


@router.get("/curricula", response={200: list[CurriculumOut], **READ_ERRORS})
def list_curricula(request: HttpRequest) -> list[Curriculum]:
    return list(scoped(_who(request).user, Curriculum))


@router.post("/curricula", response={201: CurriculumOut, **WRITE_ERRORS})
def create_curriculum(request: HttpRequest, payload: CurriculumIn) -> Status[Curriculum]:
    who = _who(request, "run_programmes")
    data = payload.model_dump()
    product = get_object_or_404(Product, pk=data.pop("product_id"))
    return Status(201, trainings.curriculum_create(actor=who.actor, product=product, **data))


@router.get("/sessions", response={200: list[SessionOut], **READ_ERRORS})
def list_sessions(request: HttpRequest) -> list[TrainingSession]:
    return list(scoped(_who(request).user, TrainingSession)[:500])


@router.post("/sessions", response={201: SessionOut, **WRITE_ERRORS})
def create_session(request: HttpRequest, payload: SessionIn) -> Status[TrainingSession]:
    who = _who(request, "run_programmes")
    data = payload.model_dump()
    curriculum = get_object_or_404(Curriculum, pk=data.pop("curriculum_id"))
    host = data.pop("host_account_id")
    for key in ("starts_at", "ends_at"):
        if timezone.is_naive(data[key]):
            data[key] = timezone.make_aware(data[key])
    session = trainings.session_create(
        actor=who.actor,
        curriculum=curriculum,
        host_account=_account(who, host) if host else None,
        **data,
    )
    return Status(201, session)


@router.get("/sessions/{session_id}/attendees", response={200: list[AttendanceOut], **READ_ERRORS})
def list_attendees(request: HttpRequest, session_id: RecordId) -> list[Attendance]:
    who = _who(request)
    session = get_scoped(who.user, TrainingSession, session_id)
    return list(scoped(who.user, Attendance).filter(session=session))


@router.post("/sessions/{session_id}/attendees", response={201: AttendanceOut, **WRITE_ERRORS})
def register_attendee(
    request: HttpRequest, session_id: RecordId, payload: AttendeeIn
) -> Status[Attendance]:
    who = _who(request, "run_programmes")
    session = get_scoped(who.user, TrainingSession, session_id)
    contact = get_scoped(who.user, Contact, payload.contact_id)
    return Status(
        201, trainings.attendee_register(actor=who.actor, session_id=session.pk, contact=contact)
    )


@router.post(
    "/attendances/{attendance_id}/attendance", response={200: AttendanceOut, **WRITE_ERRORS}
)
def mark_attendance(
    request: HttpRequest, attendance_id: RecordId, payload: AttendanceIn
) -> Attendance:
    who = _who(request, "run_programmes")
    attendance = get_scoped(who.user, Attendance, attendance_id, "change")
    return trainings.attendance_mark(
        actor=who.actor, attendance_id=attendance.pk, attended=payload.attended
    )


@router.post(
    "/attendances/{attendance_id}/assessment", response={200: AttendanceOut, **WRITE_ERRORS}
)
def record_assessment(
    request: HttpRequest, attendance_id: RecordId, payload: AssessmentIn
) -> Attendance:
    who = _who(request, "run_programmes")
    attendance = get_scoped(who.user, Attendance, attendance_id, "change")
    return trainings.assessment_record(
        actor=who.actor, attendance_id=attendance.pk, score=payload.score
    )


# --- field trials -----------------------------------------------------------------------------


class TrialIn(Input):
    account_id: RecordId
    product_id: RecordId
    crop: Annotated[str, Field(min_length=1, max_length=100)]
    season: Annotated[int, Field(ge=1990, le=2100)]
    notes: Text = ""


class PlotIn(Input):
    arm: Literal["product", "usual"]
    area_ha: Annotated[Decimal, Field(gt=0, max_digits=10, decimal_places=3)]
    sown_on: dt.date
    harvested_on: dt.date | None = None
    yield_t: Amount | None = None


class HarvestIn(Input):
    harvested_on: dt.date
    yield_t: Amount


class PlotOut(Schema):
    id: int
    arm: str
    area_ha: Decimal
    sown_on: dt.date
    harvested_on: dt.date | None
    yield_t: Decimal | None


class TrialOut(Schema):
    id: int
    account_id: int
    product_id: int
    crop: str
    season: int
    notes: str
    plots: list[PlotOut]
    difference_t_ha: float | None

    @staticmethod
    def resolve_plots(obj: FieldTrial) -> list[TrialPlot]:
        return list(obj.plots.all())

    @staticmethod
    def resolve_difference_t_ha(obj: FieldTrial) -> float | None:
        return trials.trial_difference(list(obj.plots.all()))


class ResultOut(Schema):
    product_id: int
    product: str
    trials: int
    harvested: int
    mean_difference_t_ha: float | None
    t_interval_95: tuple[float, float] | None
    bootstrap_interval_95: tuple[float, float] | None
    summary: str


@router.get("/trials", response={200: list[TrialOut], **READ_ERRORS})
def list_trials(request: HttpRequest) -> list[FieldTrial]:
    who = _who(request)
    return list(scoped(who.user, FieldTrial).prefetch_related("plots")[:500])


@router.post("/trials", response={201: TrialOut, **WRITE_ERRORS})
def create_trial(request: HttpRequest, payload: TrialIn) -> Status[FieldTrial]:
    who = _who(request, "run_programmes")
    data = payload.model_dump()
    account = _account(who, data.pop("account_id"))
    product = get_object_or_404(Product, pk=data.pop("product_id"))
    return Status(
        201, trials.trial_create(actor=who.actor, account=account, product=product, **data)
    )


@router.get("/trials/{trial_id}", response={200: TrialOut, **READ_ERRORS})
def get_trial(request: HttpRequest, trial_id: RecordId) -> FieldTrial:
    return get_scoped(_who(request).user, FieldTrial, trial_id)


@router.post("/trials/{trial_id}/plots", response={201: PlotOut, **WRITE_ERRORS})
def add_plot(request: HttpRequest, trial_id: RecordId, payload: PlotIn) -> Status[TrialPlot]:
    who = _who(request, "run_programmes")
    trial = get_scoped(who.user, FieldTrial, trial_id, "change")
    return Status(201, trials.plot_add(actor=who.actor, trial=trial, **payload.model_dump()))


@router.post("/plots/{plot_id}/harvest", response={200: PlotOut, **WRITE_ERRORS})
def harvest_plot(request: HttpRequest, plot_id: RecordId, payload: HarvestIn) -> TrialPlot:
    who = _who(request, "run_programmes")
    plot = get_scoped(who.user, TrialPlot, plot_id, "change")
    return trials.plot_harvest(actor=who.actor, plot_id=plot.pk, **payload.model_dump())


@router.get("/trial-results", response={200: list[ResultOut], **READ_ERRORS})
def trial_results(request: HttpRequest) -> list[dict[str, Any]]:
    """Per product: the yield difference across its trials with 95% intervals, and a sentence
    marketing can quote."""
    out = []
    for result in selectors.trial_results(_who(request).user):
        u = result.uncertainty
        out.append(
            {
                "product_id": result.product.pk,
                "product": result.product.name,
                "trials": len(result.trials),
                "harvested": u.n,
                "mean_difference_t_ha": u.mean,
                "t_interval_95": (u.t_low, u.t_high) if u.t_low is not None else None,
                "bootstrap_interval_95": (u.boot_low, u.boot_high)
                if u.boot_low is not None
                else None,
                "summary": trials.results_summary(result),
            }
        )
    return out


# --- loyalty ----------------------------------------------------------------------------------


class ProgrammeIn(Input):
    name: Name
    currency: Currency = "EUR"
    points_valid_months: Months = 24
    tier_window_months: Months = 12


class RuleIn(Input):
    source: Literal["purchase", "training", "referral", "event"]
    points: Points
    product_id: RecordId | None = None
    cap_points: Points | None = None
    cap_period: Literal["month", "quarter", "year"] = "year"


class TierIn(Input):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    threshold: Annotated[int, Field(ge=0, le=10**9)]
    valid_months: Months = 12


class RewardIn(Input):
    name: Name
    kind: Literal["merchandise", "service", "trip"]
    nature: Literal[
        "gift", "meal", "travel", "leisure_travel", "fee", "education", "grant", "sample"
    ]
    points_cost: Points
    unit_cost: Money = Decimal("0")
    destination: Annotated[str, Field(max_length=200)] = ""
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    capacity: Annotated[int, Field(ge=1, le=100_000)] | None = None


class RuleOut(Schema):
    id: int
    source: str
    points: int
    product_id: int | None
    cap_points: int | None
    cap_period: str


class TierOut(Schema):
    id: int
    name: str
    threshold: int
    valid_months: int


class RewardOut(Schema):
    id: int
    name: str
    kind: str
    nature: str
    points_cost: int
    unit_cost: Decimal
    destination: str
    starts_on: dt.date | None
    ends_on: dt.date | None
    capacity: int | None


class ProgrammeOut(Schema):
    id: int
    name: str
    currency: str
    points_valid_months: int
    tier_window_months: int
    active: bool
    rules: list[RuleOut]
    tiers: list[TierOut]
    rewards: list[RewardOut]

    @staticmethod
    def resolve_rules(obj: LoyaltyProgramme) -> list[Any]:
        return list(obj.rules.all())

    @staticmethod
    def resolve_tiers(obj: LoyaltyProgramme) -> list[Any]:
        return list(obj.tiers.all())

    @staticmethod
    def resolve_rewards(obj: LoyaltyProgramme) -> list[Any]:
        return list(obj.rewards.all())


class EnrolIn(Input):
    account_id: RecordId
    country: Country


class MembershipOut(Schema):
    id: int
    programme_id: int
    account_id: int
    country: str
    balance: int
    tier: str | None
    tier_expires_on: dt.date | None

    @staticmethod
    def resolve_tier(obj: Membership) -> str | None:
        tier = loyalty.tier_of(obj, dt.date.today())  # noqa: DTZ011 - a calendar day
        return tier.name if tier else None


class EntryOut(Schema):
    id: int
    kind: str
    points: int
    balance_after: int
    occurred_at: dt.datetime
    source_key: str
    reverses_id: int | None
    redemption_id: int | None
    note: str


class StatementOut(Schema):
    membership_id: int
    start: dt.date
    end: dt.date
    opening: int
    closing: int
    tier: str | None
    entries: list[EntryOut]


class RedeemIn(Input):
    reward_id: RecordId
    quantity: Annotated[int, Field(ge=1, le=1000)] = 1
    traveller_ids: Annotated[list[RecordId], Field(max_length=100)] = []


class RejectIn(Input):
    reason: Annotated[str, Field(min_length=1, max_length=300)]


class RedemptionOut(Schema):
    id: int
    membership_id: int
    reward_id: int
    quantity: int
    points: int
    cost: Decimal
    status: str
    reason: str
    traveller_ids: list[int]

    @staticmethod
    def resolve_traveller_ids(obj: Redemption) -> list[int]:
        return list(obj.travellers.values_list("pk", flat=True))


class ReferralIn(Input):
    referred_account_id: RecordId


class RefundIn(Input):
    deal_line_id: RecordId
    note: Annotated[str, Field(max_length=200)] = ""


def _programme(who: ApiCaller, pk: int) -> LoyaltyProgramme:
    return get_scoped(who.user, LoyaltyProgramme, pk)


@router.get("/loyalty/programmes", response={200: list[ProgrammeOut], **READ_ERRORS})
def list_programmes(request: HttpRequest) -> list[LoyaltyProgramme]:
    return list(scoped(_who(request).user, LoyaltyProgramme))


@router.post("/loyalty/programmes", response={201: ProgrammeOut, **WRITE_ERRORS})
def create_programme(request: HttpRequest, payload: ProgrammeIn) -> Status[LoyaltyProgramme]:
    who = _who(request, "manage_loyalty")
    return Status(201, loyalty.programme_create(actor=who.actor, **payload.model_dump()))


@router.post("/loyalty/programmes/{programme_id}/rules", response={201: RuleOut, **WRITE_ERRORS})
def add_rule(request: HttpRequest, programme_id: RecordId, payload: RuleIn) -> Status[Any]:
    who = _who(request, "manage_loyalty")
    programme = _programme(who, programme_id)
    data = payload.model_dump()
    if data["product_id"] is not None:
        get_object_or_404(Product, pk=data["product_id"])
    return Status(201, loyalty.earning_rule_create(actor=who.actor, programme=programme, **data))


@router.post("/loyalty/programmes/{programme_id}/tiers", response={201: TierOut, **WRITE_ERRORS})
def add_tier(request: HttpRequest, programme_id: RecordId, payload: TierIn) -> Status[Any]:
    who = _who(request, "manage_loyalty")
    programme = _programme(who, programme_id)
    return Status(
        201, loyalty.tier_create(actor=who.actor, programme=programme, **payload.model_dump())
    )


@router.post(
    "/loyalty/programmes/{programme_id}/rewards", response={201: RewardOut, **WRITE_ERRORS}
)
def add_reward(request: HttpRequest, programme_id: RecordId, payload: RewardIn) -> Status[Any]:
    who = _who(request, "manage_loyalty")
    programme = _programme(who, programme_id)
    return Status(
        201, loyalty.reward_create(actor=who.actor, programme=programme, **payload.model_dump())
    )


@router.get(
    "/loyalty/programmes/{programme_id}/members", response={200: list[MembershipOut], **READ_ERRORS}
)
def list_members(request: HttpRequest, programme_id: RecordId) -> list[Membership]:
    who = _who(request)
    programme = _programme(who, programme_id)
    return list(scoped(who.user, Membership).filter(programme=programme).select_related("tier"))


@router.post(
    "/loyalty/programmes/{programme_id}/members", response={201: MembershipOut, **WRITE_ERRORS}
)
def enrol_member(
    request: HttpRequest, programme_id: RecordId, payload: EnrolIn
) -> Status[Membership]:
    who = _who(request, "run_programmes")
    programme = _programme(who, programme_id)
    account = _account(who, payload.account_id)
    return Status(
        201,
        loyalty.member_enrol(
            actor=who.actor, programme=programme, account=account, country=payload.country
        ),
    )


@router.post("/loyalty/sync", response={200: dict[str, int], **WRITE_ERRORS})
def sync_earnings(request: HttpRequest) -> dict[str, int]:
    """Earn for won deal lines and event attendance of members (idempotent)."""
    who = _who(request, "manage_loyalty")
    return {"written": loyalty.loyalty_sync(actor=who.actor)}


@router.get(
    "/loyalty/members/{membership_id}/statement", response={200: StatementOut, **READ_ERRORS}
)
def member_statement(
    request: HttpRequest, membership_id: RecordId, start: dt.date, end: dt.date
) -> dict[str, Any]:
    who = _who(request)
    membership = get_scoped(who.user, Membership, membership_id)
    if end < start:
        raise InvalidInput({"end": [_("The end comes after the start.")]})
    st = loyalty.statement(membership, start, end)
    return {
        "membership_id": membership.pk,
        "start": st.start,
        "end": st.end,
        "opening": st.opening,
        "closing": st.closing,
        "tier": st.tier.name if st.tier else None,
        "entries": st.entries,
    }


@router.post(
    "/loyalty/members/{membership_id}/redemptions", response={201: RedemptionOut, **WRITE_ERRORS}
)
def request_redemption(
    request: HttpRequest, membership_id: RecordId, payload: RedeemIn
) -> Status[Redemption]:
    who = _who(request, "run_programmes")
    membership = get_scoped(who.user, Membership, membership_id, "change")
    ids = set(payload.traveller_ids)
    people = list(Contact.objects.filter(pk__in=ids, account_id=membership.account_id))
    if len(people) != len(ids):
        raise InvalidInput({"traveller_ids": [_("Travellers are people of the member account.")]})
    return Status(
        201,
        loyalty.redemption_request(
            actor=who.actor,
            membership_id=membership.pk,
            reward_id=payload.reward_id,
            quantity=payload.quantity,
            travellers=people,
        ),
    )


@router.post(
    "/loyalty/redemptions/{redemption_id}/approve", response={200: RedemptionOut, **WRITE_ERRORS}
)
def approve_redemption(request: HttpRequest, redemption_id: RecordId) -> Redemption:
    who = _who(request, "manage_loyalty")
    redemption = get_scoped(who.user, Redemption, redemption_id)
    return loyalty.redemption_approve(actor=who.actor, redemption_id=redemption.pk)


@router.post(
    "/loyalty/redemptions/{redemption_id}/reject", response={200: RedemptionOut, **WRITE_ERRORS}
)
def reject_redemption(
    request: HttpRequest, redemption_id: RecordId, payload: RejectIn
) -> Redemption:
    who = _who(request, "manage_loyalty")
    redemption = get_scoped(who.user, Redemption, redemption_id)
    return loyalty.redemption_reject(
        actor=who.actor, redemption_id=redemption.pk, reason=payload.reason
    )


@router.post("/loyalty/members/{membership_id}/referrals", response={201: EntryOut, **WRITE_ERRORS})
def record_referral(
    request: HttpRequest, membership_id: RecordId, payload: ReferralIn
) -> Status[PointsEntry]:
    """The member referred a new account: earn the referral points (once per account)."""
    who = _who(request, "run_programmes")
    membership = get_scoped(who.user, Membership, membership_id, "change")
    referred = _account(who, payload.referred_account_id)
    entry = loyalty.referral_record(actor=who.actor, membership_id=membership.pk, referred=referred)
    if entry is None:
        raise InvalidInput(_("No referral points: no rule, or this period's cap is reached."))
    return Status(201, entry)


@router.post("/loyalty/entries/{entry_id}/reverse", response={201: EntryOut, **WRITE_ERRORS})
def reverse_entry(request: HttpRequest, entry_id: RecordId) -> Status[PointsEntry]:
    who = _who(request, "manage_loyalty")
    entry = get_scoped(who.user, PointsEntry, entry_id)
    return Status(201, loyalty.points_reverse(actor=who.actor, entry_id=entry.pk))


@router.post("/loyalty/refunds", response={200: list[EntryOut], **WRITE_ERRORS})
def refund_purchase(request: HttpRequest, payload: RefundIn) -> list[PointsEntry]:
    """A refunded purchase: reverse what its won deal line earned (nothing if it earned none)."""
    who = _who(request, "manage_loyalty")
    visible = scoped(who.user, PointsEntry).filter(source_key=f"deal_line:{payload.deal_line_id}")
    if not visible.exists():
        return []
    return loyalty.purchase_refund(
        actor=who.actor, deal_line_id=payload.deal_line_id, note=payload.note
    )


# --- compliance -------------------------------------------------------------------------------


class ComplianceRuleIn(Input):
    name: Name
    country: Country
    effect: Literal["block", "disclose"]
    nature: Literal[
        "", "gift", "meal", "travel", "leisure_travel", "fee", "education", "grant", "sample"
    ] = ""
    recipient_kind: Literal["", "hcp", "hco"] = ""
    reference: Annotated[str, Field(max_length=300)] = ""


class ComplianceRuleOut(Schema):
    id: int
    name: str
    country: str
    effect: str
    nature: str
    recipient_kind: str
    reference: str
    active: bool


class TransferIn(Input):
    account_id: RecordId
    contact_id: RecordId | None = None
    country: Country
    nature: Literal[
        "gift", "meal", "travel", "leisure_travel", "fee", "education", "grant", "sample"
    ]
    value: Money
    currency: Currency
    occurred_on: dt.date
    description: Annotated[str, Field(max_length=300)] = ""


class TransferOut(Schema):
    id: int
    recipient_kind: str
    account_id: int
    contact_id: int | None
    country: str
    nature: str
    value: Decimal
    currency: str
    occurred_on: dt.date
    description: str
    redemption_id: int | None


class CheckIn(Input):
    country: Country
    nature: Literal[
        "gift", "meal", "travel", "leisure_travel", "fee", "education", "grant", "sample"
    ]
    recipient_kind: Literal["hcp", "hco"]


class CheckOut(Schema):
    allowed: bool
    rule: str | None
    reason: str | None
    disclosed_by: list[str]


@router.get("/compliance/rules", response={200: list[ComplianceRuleOut], **READ_ERRORS})
def list_rules(request: HttpRequest) -> list[ComplianceRule]:
    return list(scoped(_who(request).user, ComplianceRule))


@router.post("/compliance/rules", response={201: ComplianceRuleOut, **WRITE_ERRORS})
def create_rule(request: HttpRequest, payload: ComplianceRuleIn) -> Status[ComplianceRule]:
    who = _who(request, "manage_compliance")
    return Status(201, compliance.rule_create(actor=who.actor, **payload.model_dump()))


@router.post("/compliance/check", response={200: CheckOut, **READ_ERRORS})
def check_benefit(request: HttpRequest, payload: CheckIn) -> dict[str, Any]:
    """Would the rules allow this benefit? (Nothing is recorded.)"""
    _who(request)
    try:
        rules = compliance.compliance_check(**payload.model_dump())
    except InvalidInput as exc:
        blocking = compliance.rules_for(**payload.model_dump()).filter(effect=RuleEffect.BLOCK)
        first = blocking.first()
        return {
            "allowed": False,
            "rule": first.name if first else None,
            "reason": exc.message,
            "disclosed_by": [],
        }
    return {"allowed": True, "rule": None, "reason": None, "disclosed_by": [r.name for r in rules]}


@router.get("/compliance/transfers", response={200: list[TransferOut], **READ_ERRORS})
def list_transfers(request: HttpRequest, year: Year | None = None) -> list[TransferOfValue]:
    who = _who(request)
    rows = scoped(who.user, TransferOfValue)
    if year is not None:
        rows = rows.filter(occurred_on__year=year)
    return list(rows[:1000])


@router.post("/compliance/transfers", response={201: TransferOut, **WRITE_ERRORS})
def record_transfer(request: HttpRequest, payload: TransferIn) -> Status[TransferOfValue]:
    who = _who(request, "manage_compliance")
    data = payload.model_dump()
    account = _account(who, data.pop("account_id"))
    contact_id = data.pop("contact_id")
    contact = get_scoped(who.user, Contact, contact_id) if contact_id else None
    return Status(
        201, compliance.transfer_record(actor=who.actor, account=account, contact=contact, **data)
    )


@router.get("/compliance/reports/{report}", response={200: None, **READ_ERRORS})
def disclosure_report(
    request: HttpRequest,
    report: Literal["efpia", "open-payments"],
    year: Year,
    country: Annotated[str, Field(max_length=2)] = "",
) -> HttpResponse:
    """The yearly disclosure report as CSV: EFPIA (one row per recipient) or Open Payments."""
    who = _who(request)
    if not can(who.user, "manage_compliance"):
        raise ApiError(403, "forbidden", _("You may not see disclosure reports."))
    if report == "efpia":
        rows = compliance.efpia_rows(year=year, country=country[:2])
    else:
        rows = compliance.open_payments_rows(year=year)
    record_export(
        actor=who.actor,
        model=TransferOfValue,
        fmt="csv",
        rows=len(rows) - 1,
        filters={"report": report, "year": year},
    )
    response = HttpResponse(to_csv(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{report}-{year}.csv"'
    return response


# --- the head's figures -----------------------------------------------------------------------


class OverviewOut(Schema):
    currency: str
    training_sessions: int
    training_attended: int
    training_accounts: int
    training_certified: int
    loyalty_members: int
    loyalty_non_members: int
    member_revenue: Decimal
    non_member_revenue: Decimal
    loyalty_cost: Decimal
    points_outstanding: int


@router.get("/overview", response={200: OverviewOut, **READ_ERRORS})
def overview(request: HttpRequest) -> dict[str, Any]:
    """The last twelve months: training reach and loyalty cost against revenue (members and
    non-members), over what the caller may see."""
    who = _who(request)
    since = selectors.window_start()
    reach = selectors.training_reach(who.user, since)
    economics = selectors.loyalty_economics(who.user, since)
    return {
        "currency": economics.currency,
        "training_sessions": reach.sessions,
        "training_attended": reach.attended,
        "training_accounts": reach.accounts,
        "training_certified": reach.certified,
        "loyalty_members": economics.members,
        "loyalty_non_members": economics.non_members,
        "member_revenue": economics.member_revenue,
        "non_member_revenue": economics.non_member_revenue,
        "loyalty_cost": economics.cost,
        "points_outstanding": economics.points_outstanding,
    }
