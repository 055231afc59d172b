"""Enumerations stored as keys, in words for the active language: timeline kinds, channels,
attribution models and departments. Pages (the `tandem` template filters), forms and exports
read them here, so a key is never shown as it is stored.

Invariants: every label is lazy (translated when shown, in the language of that request); an
unknown key is shown readably (underscores as spaces) rather than refused.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from tandem.core.models import Department

KIND_LABELS = {
    # logged by people
    "sales_call": _("Sales call"),
    "sales_linkedin": _("Message on LinkedIn"),
    "sales_todo": _("Task done"),
    "meeting": _("Meeting"),
    "field_visit": _("Field visit"),
    "note": _("Note"),
    # the website and the tracking API
    "page_view": _("Page view"),
    "page": _("Page view"),
    "screen": _("Screen view"),
    "form_submit": _("Form submitted"),
    "form_submitted": _("Form submitted"),
    "link_click": _("Tracked link clicked"),
    "ad_click": _("Ad clicked"),
    "identify": _("Identified"),
    "track": _("Event"),
    # email
    "email_sent": _("Email sent"),
    "email_open": _("Email opened"),
    "email_opened": _("Email opened"),
    "email_click": _("Email link clicked"),
    "email_clicked": _("Email link clicked"),
    "sequence_email_sent": _("Sequence email sent"),
    # content
    "content_viewed": _("Content viewed"),
    "content_downloaded": _("Content downloaded"),
    # events
    "webinar": _("Webinar"),
    "webinar_registered": _("Registered for a webinar"),
    "webinar_attended": _("Attended a webinar"),
    "webinar_no_show": _("Missed a webinar"),
    "webinar_lead": _("Became a lead at a webinar"),
    "conference_registered": _("Registered for a conference"),
    "conference_attended": _("Attended a conference"),
    "conference_no_show": _("Missed a conference"),
    "conference_lead": _("Became a lead at a conference"),
    # lifecycle, hand-offs and disputes
    "lifecycle_stage_changed": _("Lifecycle stage changed"),
    "first_contact": _("First contact by sales"),
    "handoff_routed": _("Hand-off routed"),
    "handoff_accepted": _("Hand-off accepted"),
    "handoff_rejected": _("Hand-off rejected"),
    "handoff_breached": _("Hand-off SLA breached"),
    "dispute_opened": _("Dispute opened"),
    "dispute_decided": _("Dispute decided"),
    # deals, quotes and self-service
    "deal_created": _("Deal created"),
    "deal_stage_changed": _("Deal moved to another stage"),
    "deal_won": _("Deal won"),
    "deal_lost": _("Deal lost"),
    "deal_reopened": _("Deal reopened"),
    "quote_viewed": _("Quote viewed"),
    "quote_accepted": _("Quote accepted"),
    "quote_question": _("Question about a quote"),
    "price_requested": _("Price requested"),
    # Segment events named in words ("webinar attended"), as the tracking API receives them
    "ad_clicked": _("Ad clicked"),
    "booth_visit": _("Booth visit"),
    "meeting_held": _("Meeting held"),
    "newsletter_clicked": _("Newsletter clicked"),
    "sales_email": _("Sales email"),
    "training_attended": _("Training attended"),
    # field work, programmes, enablement and automation
    "visit_completed": _("Visit completed"),
    "training_passed": _("Training assessment passed"),
    "field_trial_started": _("Field trial started"),
    "field_trial_result": _("Field trial result"),
    "collateral_shared": _("Sales material shared"),
    "collateral_viewed": _("Sales material viewed"),
    "flow_email_sent": _("Automated email sent"),
}


def kind_label(kind: str) -> str:
    """A touchpoint kind in words: known kinds translated (an event named in words, "webinar
    attended", is the kind "webinar_attended"), others with spaces for underscores."""
    key = str(kind)
    label = KIND_LABELS.get(key) or KIND_LABELS.get(key.strip().lower().replace(" ", "_"))
    return str(label) if label is not None else key.replace("_", " ")


# Channels: tracking's rule table (tracking.channels.CHANNELS) and the ones Tandem's own
# records carry (lifecycle moves, disputes, phone calls, trade shows); a test holds every
# channel of the rule table to a label here.
CHANNEL_LABELS = {
    "linkedin": _("LinkedIn"),
    "facebook": _("Facebook"),
    "youtube": _("YouTube"),
    "vk": _("VK"),
    "odnoklassniki": _("Odnoklassniki"),
    "telegram": _("Telegram"),
    "instagram": _("Instagram"),
    "twitter": _("Twitter"),
    "email_newsletter": _("Email newsletter"),
    "email": _("Email"),
    "blog": _("Blog"),
    "vlog": _("Vlog"),
    "webinar": _("Webinar"),
    "conference": _("Conference"),
    "website": _("Website"),
    "paid_search": _("Paid search"),
    "organic_search": _("Organic search"),
    "paid_social": _("Paid social"),
    "organic_social": _("Organic social"),
    "paid_video": _("Paid video"),
    "organic_video": _("Organic video"),
    "display": _("Display"),
    "affiliates": _("Affiliates"),
    "sms": _("SMS"),
    "mobile_push": _("Mobile push"),
    "audio": _("Audio"),
    "paid_shopping": _("Paid shopping"),
    "organic_shopping": _("Organic shopping"),
    "cross_network": _("Cross-network"),
    "paid_other": _("Other paid"),
    "referral": _("Referral"),
    "direct": _("Direct"),
    "sales_call": _("Sales call"),
    "sales_email": _("Sales email"),
    "meeting": _("Meeting"),
    "field_visit": _("Field visit"),
    "training": _("Training"),
    "field_trial": _("Field trial"),
    "sales_enablement": _("Sales enablement"),
    "loyalty": _("Loyalty"),
    "self_service": _("Self-service"),
    "lifecycle": _("Lifecycle"),
    "dispute": _("Dispute"),
    "phone": _("Phone"),
    "sales": _("Sales"),
    "trade_show": _("Trade show"),
    "none": _("No touch"),
}


def channel_label(channel: str) -> str:
    """A channel in words: known channels translated, others (a channel an organisation's own
    rules name) with spaces for underscores."""
    label = CHANNEL_LABELS.get(str(channel))
    return str(label) if label is not None else str(channel).replace("_", " ")


# Attribution models (attribution.engine.models.MODELS) by the names people know them by.
ATTRIBUTION_MODEL_LABELS = {
    "first": pgettext_lazy("attribution model", "First touch"),
    "last": pgettext_lazy("attribution model", "Last touch"),
    "last-non-direct": pgettext_lazy("attribution model", "Last non-direct touch"),
    "linear": pgettext_lazy("attribution model", "Linear"),
    "time-decay": pgettext_lazy("attribution model", "Time decay"),
    "position": pgettext_lazy("attribution model", "Position-based (U-shaped)"),
    "w-shaped": pgettext_lazy("attribution model", "W-shaped"),
    "full-path": pgettext_lazy("attribution model", "Full path (Z-shaped)"),
    "markov": pgettext_lazy("attribution model", "Markov chain"),
    "shapley": pgettext_lazy("attribution model", "Shapley value"),
    "simplified-shapley": pgettext_lazy("attribution model", "Simplified Shapley"),
    "ordered-shapley": pgettext_lazy("attribution model", "Ordered Shapley"),
}


def attribution_model_label(model: str) -> str:
    """An attribution model's name in words; an unknown name as it is."""
    label = ATTRIBUTION_MODEL_LABELS.get(str(model))
    return str(label) if label is not None else str(model)


def department_label(department: str) -> str:
    """A department key (core.models.Department) in words; an unknown key as it is."""
    try:
        return str(Department(str(department)).label)
    except ValueError:
        return str(department)
