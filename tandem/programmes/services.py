"""The programmes' operations for other apps (the demo, insights): every write lives in one of
the topic modules — `trainings`, `trials`, `loyalty`, `compliance` — and is re-exported here,
the app's public face under the app-boundaries contract."""

from __future__ import annotations

from tandem.programmes.compliance import compliance_check, transfer_record
from tandem.programmes.compliance import rule_create as compliance_rule_create
from tandem.programmes.loyalty import (
    earning_rule_create,
    loyalty_sync,
    member_enrol,
    places_taken,
    points_earn,
    points_expire,
    points_reverse,
    programme_create,
    purchase_refund,
    redemption_approve,
    redemption_reject,
    redemption_request,
    referral_record,
    reward_create,
    statement,
    tier_create,
)
from tandem.programmes.trainings import (
    assessment_record,
    attendance_mark,
    attendee_register,
    curriculum_create,
    recertification_reminders_send,
    session_create,
)
from tandem.programmes.trials import plot_add, plot_harvest, trial_create

__all__ = [
    "assessment_record",
    "attendance_mark",
    "attendee_register",
    "compliance_check",
    "compliance_rule_create",
    "curriculum_create",
    "earning_rule_create",
    "loyalty_sync",
    "member_enrol",
    "places_taken",
    "plot_add",
    "plot_harvest",
    "points_earn",
    "points_expire",
    "points_reverse",
    "programme_create",
    "purchase_refund",
    "recertification_reminders_send",
    "redemption_approve",
    "redemption_reject",
    "redemption_request",
    "referral_record",
    "reward_create",
    "session_create",
    "statement",
    "tier_create",
    "transfer_record",
    "trial_create",
]
