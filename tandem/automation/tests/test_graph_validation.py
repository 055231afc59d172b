"""A broken graph is refused with a sentence per problem; a good one parses."""

from __future__ import annotations

from typing import Any

import pytest

from tandem.automation.graph import GraphError, linear, validate_graph

TRIGGER = {"kind": "manual"}


def _problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(GraphError) as caught:
        validate_graph(data)
    return caught.value.problems


def test_a_linear_flow_with_a_wait_and_an_email_is_valid() -> None:
    graph = validate_graph(
        linear(
            TRIGGER,
            [
                ("send_email", {"subject": "Hi", "body": "Hello"}),
                ("wait", {"days": 2}),
                ("exit", {}),
            ],
        )
    )
    assert [n.kind for n in graph.nodes] == ["send_email", "wait", "exit"]
    assert graph.out("s1") == {"next": "s2"}


def test_an_unreachable_step_is_named() -> None:
    data = linear(TRIGGER, [("goal", {}), ("exit", {})])
    data["edges"] = []
    assert _problems(data) == ["Step “s2” cannot be reached from the start."]


def test_a_branch_without_its_no_arrow_is_a_missing_branch() -> None:
    data = {
        "trigger": TRIGGER,
        "entry": "b",
        "nodes": [
            {"id": "b", "kind": "branch", "config": {"segment_id": 1}},
            {"id": "x", "kind": "exit"},
        ],
        "edges": [{"source": "b", "target": "x", "label": "yes"}],
    }
    assert _problems(data) == ["Step “b” has no “no” branch."]


def test_a_loop_without_a_wait_is_refused_and_one_with_a_wait_is_not() -> None:
    nodes = [
        {"id": "mail", "kind": "send_email", "config": {"subject": "s", "body": "b"}},
        {"id": "goal", "kind": "goal"},
    ]
    edges = [
        {"source": "mail", "target": "goal"},
        {"source": "goal", "target": "mail"},
    ]
    problems = _problems({"trigger": TRIGGER, "entry": "mail", "nodes": nodes, "edges": edges})
    assert problems == [
        "The loop mail → goal → mail has no wait: a contact would go round it forever."
    ]
    nodes.append({"id": "pause", "kind": "wait", "config": {"days": 7}})
    edges[1] = {"source": "goal", "target": "pause"}
    edges.append({"source": "pause", "target": "mail"})
    validate_graph({"trigger": TRIGGER, "entry": "mail", "nodes": nodes, "edges": edges})


def test_bad_step_settings_unknown_kinds_and_dangling_arrows_are_each_reported() -> None:
    data = {
        "trigger": {"kind": "moon_phase"},
        "entry": "a",
        "nodes": [{"id": "a", "kind": "send_email", "config": {"subject": ""}}],
        "edges": [],
    }
    problems = _problems(data)
    assert len(problems) == 1
    assert problems[0].startswith("trigger.kind: Input should be")
    data["trigger"] = TRIGGER
    data["edges"] = [{"source": "a", "target": "nowhere"}]
    problems = _problems(data)
    assert "Step “a”: subject: String should have at least 1 character" in problems
    assert "Step “a”: body: Field required" in problems
    assert "An arrow joins “nowhere”, which is not a step." in problems


def test_an_exit_with_an_arrow_and_a_step_with_two_next_arrows_are_refused() -> None:
    data = {
        "trigger": TRIGGER,
        "entry": "a",
        "nodes": [
            {"id": "a", "kind": "goal"},
            {"id": "b", "kind": "exit"},
            {"id": "c", "kind": "exit"},
        ],
        "edges": [
            {"source": "a", "target": "b"},
            {"source": "a", "target": "c"},
            {"source": "b", "target": "c"},
        ],
    }
    problems = _problems(data)
    assert "Step “a” has two “next” arrows." in problems
    assert "Step “b” (exit) cannot have a “next” arrow." in problems
