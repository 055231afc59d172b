from __future__ import annotations

import pytest

from tandem.core.audit import Actor
from tandem.tracking import services
from tandem.tracking.channels import forget_cached_rules
from tandem.tracking.models import Source


@pytest.fixture(autouse=True)
def _fresh_rules() -> None:
    forget_cached_rules()


@pytest.fixture
def website(db: None) -> tuple[Source, str]:
    return services.source_create(actor=Actor.system(), name="Website", kind="website")


@pytest.fixture
def server_source(db: None) -> tuple[Source, str]:
    return services.source_create(actor=Actor.system(), name="Backend", kind="server")


@pytest.fixture
def live(settings: object, live_server: object) -> object:
    settings.STATIC_URL = "/static/"  # type: ignore[attr-defined]
    return live_server
