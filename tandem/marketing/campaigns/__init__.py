"""Campaigns: plan (goal, channels, budget, dates, owner, UTM code), cost lines, and the report.

`services` holds every write; `report` reads what a campaign brought in (set-based queries).
"""
