"""Webinars and conferences: registration page, iCalendar invitations (RFC 5545/5546), reminders,
attendance and badge-scan imports, touchpoints, and the attendee-to-lead rule."""
