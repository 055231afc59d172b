"""The programmes operations under /api/v1/programmes (mounted in config/api.py)."""

from ninja import Router

router = Router(tags=["programmes"])
