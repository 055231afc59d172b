"""The automation operations under /api/v1/automation (mounted in config/api.py)."""

from ninja import Router

router = Router(tags=["automation"])
