"""The field operations under /api/v1/field (mounted in config/api.py)."""

from ninja import Router

router = Router(tags=["field"])
