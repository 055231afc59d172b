"""Round-robin seats under concurrency: the conditional UPDATE never overfills a rep.

Real threads with their own database connections; PostgreSQL only (SQLite serialises writers
with a file lock, so there is no race to test there)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from tandem.core.models import Role, User
from tandem.leads import routing
from tandem.leads.models import RepCapacity

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres_only]


def test_parallel_claims_fill_each_seat_exactly_once():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    reps = [User.objects.create_user(username=f"rep{i}", role=Role.SALES_REP) for i in range(3)]
    for rep, capacity in zip(reps, (1, 2, 3), strict=True):
        RepCapacity.objects.create(user=rep, capacity=capacity, weight=1)
    results: list[str | None] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def claim() -> None:
        try:
            barrier.wait()
            rep = routing.claim_seat(None, set())
            with lock:
                results.append(rep.username if rep else None)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r for r in results if r) == ["rep0", "rep1", "rep1", "rep2", "rep2", "rep2"]
    assert results.count(None) == 2
    assert dict(RepCapacity.objects.values_list("user__username", "open_count")) == {
        "rep0": 1,
        "rep1": 2,
        "rep2": 3,
    }
