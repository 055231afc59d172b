"""Attribution services: request building, result shape and totals."""

from __future__ import annotations

import datetime as dt

import pytest

from tandem.attribution import services
from tandem.core.errors import InvalidInput


def test_build_request_defaults_and_inclusive_end() -> None:
    spec, params = services.build_request(today=dt.date(2026, 3, 31), channels=[" b", "a", ""])
    assert spec.start == dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert spec.end == dt.datetime(2026, 4, 1, tzinfo=dt.UTC)  # 31 March counts
    assert spec.channels == ("a", "b")
    assert (spec.unit, spec.conversion, spec.lookback_days) == ("contact", "deal_won", 90)
    assert params.engine_params() == {"order": 1}


def test_build_request_names_every_bad_field() -> None:
    with pytest.raises(InvalidInput) as exc:
        services.build_request(
            model="x", order=9, n_boot=-1, level=2.0, lookback_days=999, conversion="event:"
        )
    assert set(exc.value.errors) == {
        "model",
        "order",
        "n_boot",
        "level",
        "lookback_days",
        "conversion",
    }


def test_run_key_depends_on_scope_version_and_params() -> None:
    spec, params = services.build_request(today=dt.date(2026, 3, 31))
    key = services.run_key("all", "v1", spec, params)
    assert key == services.run_key("all", "v1", spec, params)
    assert key != services.run_key("user:2", "v1", spec, params)
    assert key != services.run_key("all", "v2", spec, params)
    _, other = services.build_request(today=dt.date(2026, 3, 31), order=2)
    assert key != services.run_key("all", "v1", spec, other)


def test_parse_models() -> None:
    assert services.parse_models("last, first,last") == ("last", "first")
    with pytest.raises(InvalidInput):
        services.parse_models("first,magic")
    with pytest.raises(InvalidInput):
        services.parse_models(" , ")
