"""The flow drawn as a diagram: a layered layout computed here, drawn as SVG by the template.

Layers are the breadth-first distance from the entry; nodes of a layer sit side by side in the
order of the graph. An arrow going down is a line; an arrow going back up (a loop through a
wait) is a curve around the right side. No JavaScript is needed to see or print it.
"""

from __future__ import annotations

from dataclasses import dataclass

from tandem.automation import graph as g

WIDTH, HEIGHT, GAP_X, GAP_Y, MARGIN = 190, 58, 40, 56, 20


@dataclass(frozen=True)
class Box:
    id: str
    kind: str
    kind_label: str
    summary: str
    x: int
    y: int
    entered: int
    converted: int


@dataclass(frozen=True)
class Arrow:
    path: str
    label: str
    label_x: int
    label_y: int


@dataclass(frozen=True)
class Diagram:
    width: int
    height: int
    boxes: list[Box]
    arrows: list[Arrow]


def summary(node: g.Node) -> str:
    c = node.config
    texts = {
        "send_email": str(c.get("subject", "")),
        "wait": " ".join(f"{c[k]}{k[0]}" for k in ("days", "hours", "minutes") if c.get(k)),
        "wait_until": f"{c.get('hour', 0):02}:00",
        "wait_event": f"{c.get('touchpoint_kind', '')} ≤ {c.get('timeout_days', '')}d",
        "branch": f"segment {c['segment_id']}" if c.get("segment_id") else "condition",
        "split": f"A {c.get('percent_a', 50)}%",
        "update_field": f"{c.get('key') or c.get('field', '')} = {c.get('value', '')}",
        "set_stage": str(c.get("stage", "")),
        "add_to_list": f"list {c.get('segment_id', '')}",
        "assign_owner": f"user {c.get('user_id', '')}",
        "create_task": str(c.get("title", "")),
        "notify": str(c.get("text", "")),
        "webhook": str(c.get("url", "")),
    }
    text = texts.get(node.kind, "")
    return text if len(text) <= 26 else text[:25] + "…"


def layout(graph: g.Graph, counts: dict[str, tuple[int, int]] | None = None) -> Diagram:
    counts = counts or {}
    depth = {graph.entry: 0}
    order = [graph.entry]
    for node_id in order:
        for target in graph.out(node_id).values():
            if target not in depth:
                depth[target] = depth[node_id] + 1
                order.append(target)
    for node in graph.nodes:  # unreachable nodes (a draft being edited): at the bottom
        if node.id not in depth:
            depth[node.id] = max(depth.values()) + 1
            order.append(node.id)
    layers: dict[int, list[str]] = {}
    for node_id in order:
        layers.setdefault(depth[node_id], []).append(node_id)
    widest = max(len(ids) for ids in layers.values())
    total_w = MARGIN * 2 + widest * WIDTH + (widest - 1) * GAP_X + 60
    place: dict[str, tuple[int, int]] = {}
    for level, ids in layers.items():
        row_w = len(ids) * WIDTH + (len(ids) - 1) * GAP_X
        left = (total_w - 60 - row_w) // 2
        for i, node_id in enumerate(ids):
            place[node_id] = (left + i * (WIDTH + GAP_X), MARGIN + level * (HEIGHT + GAP_Y))
    boxes = []
    for node in graph.nodes:
        x, y = place[node.id]
        entered, converted = counts.get(node.id, (0, 0))
        label = str(g.STEP_LABELS.get(node.kind, node.kind))
        boxes.append(Box(node.id, node.kind, label, summary(node), x, y, entered, converted))
    arrows = []
    for e in graph.edges:
        if e.source not in place or e.target not in place:
            continue
        sx, sy = place[e.source]
        tx, ty = place[e.target]
        label = "" if e.label == "next" else e.label
        if ty > sy:
            x1, y1, x2, y2 = sx + WIDTH // 2, sy + HEIGHT, tx + WIDTH // 2, ty
            mid = (y1 + y2) // 2
            path = f"M{x1},{y1} C{x1},{mid} {x2},{mid} {x2},{y2 - 2}"
            arrows.append(Arrow(path, label, (x1 + x2) // 2 + 4, mid - 2))
        else:  # back up: round the right side
            x1, y1, x2, y2 = sx + WIDTH, sy + HEIGHT // 2, tx + WIDTH, ty + HEIGHT // 2
            out = max(x1, x2) + 50
            path = f"M{x1},{y1} C{out},{y1} {out},{y2} {x2 + 2},{y2}"
            arrows.append(Arrow(path, label, out - 20, (y1 + y2) // 2))
    height = MARGIN * 2 + (max(layers) + 1) * (HEIGHT + GAP_Y) - GAP_Y
    return Diagram(total_w, height, boxes, arrows)
