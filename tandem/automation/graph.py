"""A flow's graph as data: a trigger, nodes and labelled edges, validated with pydantic.

The graph is JSON: `{"trigger": {"kind", ...}, "entry": "<node id>", "stop_on": [<touchpoint
kinds>], "goal": {...}, "nodes": [{"id", "kind", "config": {...}}], "edges": [{"source",
"target", "label"}]}`. `validate_graph` returns the parsed graph or raises `GraphError` with
every problem found, each a sentence a marketer can act on.

Invariants (what a valid graph guarantees the runner):
- every node is reachable from the entry, every edge joins two existing nodes;
- a node has exactly the outgoing labels its kind needs: a branch "yes" and "no", a split "a"
  and "b", a wait for an event "event" and "timeout", an exit none, any other step at most one
  "next" (none: the flow ends there);
- every cycle passes through a wait (a duration or an event), so an enrolment never spins.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from django.utils.translation import gettext as _
from pydantic import BaseModel, ConfigDict, Field, ValidationError

TRIGGER_KINDS = (
    "manual",
    "touchpoint",
    "segment_entered",
    "segment_left",
    "form_submitted",
    "score_above",
    "lifecycle_changed",
    "anniversary",
    "handoff_sla_breached",
    "deal_stage",
    "training_completed",
    "visit_reported",
    "webhook",
)
STEP_KINDS = (
    "send_email",
    "wait",
    "wait_until",
    "wait_event",
    "branch",
    "split",
    "update_field",
    "set_stage",
    "add_to_list",
    "assign_owner",
    "handoff",
    "create_task",
    "notify",
    "webhook",
    "start_flow",
    "goal",
    "exit",
)
LABELS_NEEDED: dict[str, tuple[str, ...]] = {
    "branch": ("yes", "no"),
    "split": ("a", "b"),
    "wait_event": ("event", "timeout"),
}
WAITS = ("wait", "wait_until", "wait_event")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Trigger(_Strict):
    kind: Literal[TRIGGER_KINDS]  # type: ignore[valid-type]
    touchpoint_kind: str = Field("", max_length=60)
    segment_id: int | None = None
    form: str = Field("", max_length=100)
    threshold: float | None = None
    stage: str = Field("", max_length=40)
    deal_stage_id: int | None = None
    date_field: str = Field("", max_length=60)


class SendEmail(_Strict):
    subject: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=20000)
    # sent for the flow's owner (a sales sequence's rep): replies go to the owner's address,
    # `{rep_name}` is the owner's name when the step runs, the timeline shows a sales email
    from_owner: bool = False


class Wait(_Strict):
    days: int = Field(0, ge=0, le=365)
    hours: int = Field(0, ge=0, le=8760)
    minutes: int = Field(0, ge=0, le=525600)
    # the days are the organisation's working days (no weekends, no holidays, its time zone)
    business_days: bool = False


class WaitUntil(_Strict):
    hour: int = Field(ge=0, le=23)
    weekday: int | None = Field(None, ge=0, le=6)


class WaitEvent(_Strict):
    touchpoint_kind: str = Field(min_length=1, max_length=60)
    timeout_days: int = Field(ge=1, le=365)


class Branch(_Strict):
    segment_id: int | None = None
    definition: dict[str, Any] | None = None


class Split(_Strict):
    percent_a: int = Field(50, ge=1, le=99)


class UpdateField(_Strict):
    field: Literal["title", "phone", "custom"]
    key: str = Field("", max_length=60)
    value: str = Field(max_length=500)


class SetStage(_Strict):
    stage: str = Field(min_length=1, max_length=20)


class AddToList(_Strict):
    segment_id: int


class AssignOwner(_Strict):
    user_id: int


class Handoff(_Strict):
    note: str = Field("", max_length=500)


class CreateTask(_Strict):
    title: str = Field(min_length=1, max_length=300)
    due_in_days: int = Field(0, ge=0, le=365)
    # whose "My tasks" it lands on: the contact's owner (else the flow's), or the flow's owner
    assign_to: Literal["contact_owner", "flow_owner"] = "contact_owner"
    task_kind: Literal["todo", "call", "linkedin"] = "todo"


class Notify(_Strict):
    user_id: int
    text: str = Field(min_length=1, max_length=500)


class Webhook(_Strict):
    url: str = Field(min_length=1, max_length=500)


class StartFlow(_Strict):
    """Enrol the contact in another flow (a sales sequence's flow, say); once per enrolment."""

    flow_id: int = Field(ge=0)


class Empty(_Strict):
    pass


CONFIGS: dict[str, type[BaseModel]] = {
    "send_email": SendEmail,
    "wait": Wait,
    "wait_until": WaitUntil,
    "wait_event": WaitEvent,
    "branch": Branch,
    "split": Split,
    "update_field": UpdateField,
    "set_stage": SetStage,
    "add_to_list": AddToList,
    "assign_owner": AssignOwner,
    "handoff": Handoff,
    "create_task": CreateTask,
    "notify": Notify,
    "webhook": Webhook,
    "start_flow": StartFlow,
    "goal": Empty,
    "exit": Empty,
}


class Node(_Strict):
    id: Annotated[str, Field(pattern=r"^[a-z0-9_-]{1,40}$")]
    kind: Literal[STEP_KINDS]  # type: ignore[valid-type]
    config: dict[str, Any] = Field(default_factory=dict)


class Edge(_Strict):
    source: str
    target: str
    label: Literal["next", "yes", "no", "a", "b", "event", "timeout"] = "next"


class Goal(_Strict):
    """What counts as converting, for the goal step and the lift report."""

    kind: Literal["deal_won", "stage_reached", "touchpoint"] = "deal_won"
    stage: str = Field("", max_length=20)
    touchpoint_kind: str = Field("", max_length=60)
    window_days: int = Field(90, ge=1, le=730)


class Graph(_Strict):
    trigger: Trigger
    entry: str
    nodes: list[Node] = Field(min_length=1, max_length=200)
    edges: list[Edge] = Field(default_factory=list, max_length=400)
    stop_on: list[Annotated[str, Field(max_length=60)]] = Field(default_factory=list)
    goal: Goal = Field(default_factory=lambda: Goal.model_validate({}))

    def node(self, node_id: str) -> Node:
        return next(n for n in self.nodes if n.id == node_id)

    def out(self, node_id: str) -> dict[str, str]:
        return {e.label: e.target for e in self.edges if e.source == node_id}


class GraphError(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _pydantic_problems(exc: ValidationError, where: str = "") -> list[str]:
    out = []
    for err in exc.errors():
        place = ".".join(str(p) for p in err["loc"])
        out.append(f"{where}{place}: {err['msg']}" if place else f"{where}{err['msg']}")
    return out


def _cycles_without_wait(graph: Graph) -> list[list[str]]:
    """Cycles in the graph with every wait node removed (each reported once, by its nodes)."""
    kinds = {n.id: n.kind for n in graph.nodes}
    succ: dict[str, list[str]] = {n.id: [] for n in graph.nodes}
    for e in graph.edges:
        if kinds.get(e.source) not in WAITS and kinds.get(e.target) not in WAITS:
            succ.setdefault(e.source, []).append(e.target)
    found: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(v: str) -> None:
        state[v] = 1
        stack.append(v)
        for w in succ.get(v, []):
            if state.get(w) == 1:
                found.append(stack[stack.index(w) :])
            elif w not in state:
                visit(w)
        stack.pop()
        state[v] = 2

    for n in succ:
        if n not in state:
            visit(n)
    return found


def validate_graph(data: Any) -> Graph:
    """The parsed graph, or GraphError listing every problem (see the module docstring)."""
    try:
        graph = Graph.model_validate(data)
    except ValidationError as exc:
        raise GraphError(_pydantic_problems(exc)) from None
    problems: list[str] = []
    ids = [n.id for n in graph.nodes]
    for dup in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(_("Two steps share the id “%(id)s”.") % {"id": dup})
    known = set(ids)
    for node in graph.nodes:
        try:
            CONFIGS[node.kind].model_validate(node.config)
        except ValidationError as exc:
            problems += _pydantic_problems(exc, _("Step “%(id)s”: ") % {"id": node.id})
    if graph.entry not in known:
        problems.append(
            _("The flow starts at “%(id)s”, which is not a step.") % {"id": graph.entry}
        )
    for e in graph.edges:
        for end in (e.source, e.target):
            if end not in known:
                problems.append(_("An arrow joins “%(id)s”, which is not a step.") % {"id": end})
    seen: set[tuple[str, str]] = set()
    for e in graph.edges:
        if (e.source, e.label) in seen:
            problems.append(
                _("Step “%(id)s” has two “%(label)s” arrows.") % {"id": e.source, "label": e.label}
            )
        seen.add((e.source, e.label))
    for node in graph.nodes:
        labels = set(graph.out(node.id))
        needed = LABELS_NEEDED.get(node.kind)
        if needed:
            for label in needed:
                if label not in labels:
                    problems.append(
                        _("Step “%(id)s” has no “%(label)s” branch.")
                        % {"id": node.id, "label": label}
                    )
            allowed = set(needed)
        elif node.kind == "exit":
            allowed = set()
        else:
            allowed = {"next"}
        for label in sorted(labels - allowed):
            problems.append(
                _("Step “%(id)s” (%(kind)s) cannot have a “%(label)s” arrow.")
                % {"id": node.id, "kind": node.kind, "label": label}
            )
    if graph.entry in known:
        reached = {graph.entry}
        todo = [graph.entry]
        while todo:
            for target in graph.out(todo.pop()).values():
                if target in known and target not in reached:
                    reached.add(target)
                    todo.append(target)
        for node in graph.nodes:
            if node.id not in reached:
                problems.append(
                    _("Step “%(id)s” cannot be reached from the start.") % {"id": node.id}
                )
    for cycle in _cycles_without_wait(graph):
        problems.append(
            _("The loop %(path)s has no wait: a contact would go round it forever.")
            % {"path": " → ".join([*cycle, cycle[0]])}
        )
    if problems:
        raise GraphError(problems)
    return graph


def linear(
    trigger: dict[str, Any], steps: list[tuple[str, dict[str, Any]]], **extra: Any
) -> dict[str, Any]:
    """A graph of steps one after the other (templates, migrated sequences, tests)."""
    nodes = [
        {"id": f"s{i + 1}", "kind": kind, "config": config}
        for i, (kind, config) in enumerate(steps)
    ]
    edges = [
        {"source": f"s{i + 1}", "target": f"s{i + 2}", "label": "next"}
        for i in range(len(steps) - 1)
    ]
    return {"trigger": trigger, "entry": "s1", "nodes": nodes, "edges": edges, **extra}


def _labels() -> tuple[dict[str, Any], dict[str, Any]]:
    from django.utils.translation import gettext_lazy as lazy

    steps = {
        "send_email": lazy("Send an email"),
        "wait": lazy("Wait"),
        "wait_until": lazy("Wait until a time"),
        "wait_event": lazy("Wait for an event"),
        "branch": lazy("Branch on a segment"),
        "split": lazy("Split test"),
        "update_field": lazy("Update a field"),
        "set_stage": lazy("Set the lifecycle stage"),
        "add_to_list": lazy("Add to a list"),
        "assign_owner": lazy("Assign an owner"),
        "handoff": lazy("Hand off to sales"),
        "create_task": lazy("Create a task"),
        "notify": lazy("Notify a user"),
        "webhook": lazy("Call a webhook"),
        "start_flow": lazy("Enrol in another flow or sequence"),
        "goal": lazy("Goal"),
        "exit": lazy("Exit"),
    }
    triggers = {
        "manual": lazy("By hand or through the API"),
        "touchpoint": lazy("A touchpoint"),
        "segment_entered": lazy("Entering a segment"),
        "segment_left": lazy("Leaving a segment"),
        "form_submitted": lazy("A form submitted"),
        "score_above": lazy("A score over a threshold"),
        "lifecycle_changed": lazy("A lifecycle change"),
        "anniversary": lazy("A date or anniversary"),
        "handoff_sla_breached": lazy("A hand-off SLA breached"),
        "deal_stage": lazy("A deal entering a stage"),
        "training_completed": lazy("A training completed"),
        "visit_reported": lazy("A visit reported"),
        "webhook": lazy("An incoming signed webhook"),
    }
    return steps, triggers


STEP_LABELS, TRIGGER_LABELS = _labels()
