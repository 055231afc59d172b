"""The enablement operations under /api/v1/enablement (mounted in config/api.py)."""

from ninja import Router

router = Router(tags=["enablement"])
