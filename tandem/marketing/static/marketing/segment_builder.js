// Visual segment builder: edits the filter tree in the form's JSON textarea (#id_definition),
// which stays the single definition the form posts. The catalogue of fields, operators, choices
// and translated labels comes from the server (json_script "segment-catalogue", generated from
// the schema's allowlist); the live count is a debounced POST to the count endpoint (format=json),
// whose errors are shown on the condition they concern (by path of child indexes from the root).
// Without JavaScript the textarea is the editor.
(function () {
  "use strict";
  var host = document.getElementById("segment-builder");
  var textarea = document.getElementById("id_definition");
  var catalogueEl = document.getElementById("segment-catalogue");
  if (!host || !textarea || !catalogueEl) { return; }
  var cat = JSON.parse(catalogueEl.textContent);
  var L = cat.labels;
  var initialErrors = JSON.parse((document.getElementById("segment-node-errors") || {}).textContent || "[]");
  var jsonBox = document.getElementById("segment-json");
  var countEl = document.getElementById("live-count");
  var form = document.getElementById("segment-form");
  var kindSelect = document.getElementById("id_kind");
  var fieldsByKey = {};
  cat.fields.forEach(function (f) { fieldsByKey[f.key] = f; });
  var BEHAVIOUR = ["tag", "touchpoint", "email", "segment", "subscription", "score"];
  var GROUPS = ["and", "or", "not"];
  var tree = null;
  var wrapped = false;  // the JSON's root is one condition, drawn inside an AND group until an edit
  var nodeErrors = {};  // "0.1" -> [messages]
  var timer = null;
  var seq = 0;

  // ---- helpers -------------------------------------------------------------------------------
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") { node.textContent = attrs[k]; }
      else if (k === "className") { node.className = attrs[k]; }
      else if (attrs[k] === true) { node.setAttribute(k, ""); }
      else if (attrs[k] !== false && attrs[k] !== null && attrs[k] !== undefined) { node.setAttribute(k, attrs[k]); }
    });
    (children || []).forEach(function (c) { if (c) { node.appendChild(c); } });
    return node;
  }
  function option(value, label, selected) {
    return el("option", { value: String(value), text: label, selected: selected ? true : null });
  }
  function select(id, pairs, current, label, placeholder) {
    var s = el("select", { id: id, "aria-label": label });
    if (placeholder) { s.appendChild(option("", L.choose, current === "" || current === null || current === undefined)); }
    pairs.forEach(function (p) { s.appendChild(option(p[0], p[1], String(p[0]) === String(current))); });
    return s;
  }
  function opPairs(ops) { return ops.map(function (o) { return [o, cat.ops[o] || o]; }); }
  function isGroup(node) { return node && GROUPS.indexOf(node.type) >= 0; }
  function children(node) {
    if (node.type === "not") { return node.child ? [node.child] : []; }
    return node.children || [];
  }
  function setChildren(node, list) {
    if (node.type === "not") {
      if (list.length) { node.child = list[0]; } else { delete node.child; }
    } else { node.children = list; }
  }
  function nodeAt(path) {
    var node = tree;
    path.forEach(function (i) { node = children(node)[i]; });
    return node;
  }
  function intOrNull(text) {
    if (String(text).trim() === "") { return null; }
    var n = Number(text);
    return isFinite(n) ? Math.trunc(n) : null;
  }
  function numberOrNull(text) {
    if (String(text).trim() === "") { return null; }
    var n = Number(text);
    return isFinite(n) ? n : null;
  }

  // ---- values fitting a field's kind and operator ----------------------------------------------
  function inputKind(field, op) {
    if (op === "is_empty" || op === "is_not_empty") { return "none"; }
    if (op === "within_last_days" || op === "more_than_days_ago") { return "days"; }
    if (op === "in" || op === "not_in") { return field.kind === "choice" ? "multi" : "list"; }
    if (field.kind === "datetime" || field.kind === "date") { return "date"; }
    if (field.kind === "choice") { return "choice"; }
    if (field.kind === "number") { return "number"; }
    if (field.kind === "boolean") { return "boolean"; }
    return "text";
  }
  function coerce(field, op, old) {
    var kind = inputKind(field, op);
    var first = Array.isArray(old) ? old[0] : old;
    if (kind === "none") { return undefined; }
    if (kind === "days") { return typeof first === "number" ? Math.trunc(first) : 30; }
    if (kind === "multi" || kind === "list") {
      if (Array.isArray(old)) { return old; }
      return first === undefined || first === null || first === "" ? [] : [first];
    }
    if (kind === "choice") {
      var values = field.choices.map(function (c) { return c[0]; });
      return values.indexOf(first) >= 0 ? first : (values[0] || "");
    }
    if (kind === "number") { return typeof first === "number" ? first : 0; }
    if (kind === "boolean") { return typeof first === "boolean" ? first : true; }
    if (kind === "date") { return typeof first === "string" && /^\d{4}-\d{2}-\d{2}/.test(first) ? first.slice(0, 10) : ""; }
    return first === undefined || first === null ? "" : String(first);
  }
  function newLeaf(what) {
    if (what === "tag") { return { type: "tag", op: "has", value: "" }; }
    if (what === "touchpoint") { return { type: "touchpoint", kind: "page_view", properties: [], at_least: 1, within_days: 30 }; }
    if (what === "email") { return { type: "email", event: "opened", at_least: 1, within_days: 30 }; }
    if (what === "segment") { return { type: "segment", op: "in", segment_id: (cat.segment.choices[0] || [null])[0] }; }
    if (what === "subscription") { return { type: "subscription", op: "subscribed", subscription: (cat.subscription.choices[0] || [""])[0] }; }
    if (what === "score") { return { type: "score", scoring_model_id: (cat.score.choices[0] || [null])[0], op: "gte", value: 50 }; }
    var field = fieldsByKey[what];
    if (!field) { return { type: "field", field: "", op: "eq", value: "" }; }
    var leaf = { type: "field", field: field.key, op: field.ops[0] };
    var value = coerce(field, leaf.op, undefined);
    if (value !== undefined) { leaf.value = value; }
    return leaf;
  }

  // ---- changes: every edit writes the JSON and schedules a count --------------------------------
  function commit(rerender) {
    textarea.value = JSON.stringify(tree, null, 2);
    wrapped = false;
    if (rerender) { render(); }
    scheduleCount();
  }
  function replaceAt(path, node) {
    if (!path.length) { tree = node; return; }
    var parent = nodeAt(path.slice(0, -1));
    var list = children(parent).slice();
    list[path[path.length - 1]] = node;
    setChildren(parent, list);
  }

  // ---- rendering -------------------------------------------------------------------------------
  function idFor(path, role) { return "sb-" + (path.length ? path.join("-") : "root") + "-" + role; }
  function errorList(path) {
    var messages = nodeErrors[path.join(".")];
    if (!messages || !messages.length) { return null; }
    return el("ul", { className: "sb-errors", role: "alert" }, messages.map(function (m) { return el("li", { text: m }); }));
  }
  function toolbar(path) {
    if (!path.length) { return null; }
    var parent = nodeAt(path.slice(0, -1));
    var index = path[path.length - 1];
    var size = children(parent).length;
    function move(delta) {
      var list = children(parent).slice();
      var item = list.splice(index, 1)[0];
      list.splice(index + delta, 0, item);
      setChildren(parent, list);
      commit(true);
    }
    var up = el("button", { type: "button", className: "sb-up", title: L.up, "aria-label": L.up, id: idFor(path, "up"), text: "↑", disabled: index === 0 ? true : null });
    var down = el("button", { type: "button", className: "sb-down", title: L.down, "aria-label": L.down, id: idFor(path, "down"), text: "↓", disabled: index >= size - 1 ? true : null });
    var remove = el("button", { type: "button", className: "sb-remove", title: L.remove, "aria-label": L.remove, id: idFor(path, "remove"), text: "×" });
    up.addEventListener("click", function () { move(-1); });
    down.addEventListener("click", function () { move(1); });
    remove.addEventListener("click", function () {
      var list = children(parent).slice();
      list.splice(index, 1);
      setChildren(parent, list);
      commit(true);
    });
    return el("span", { className: "sb-tools" }, [up, down, remove]);
  }

  function renderGroup(node, path, depth) {
    var logic = select(idFor(path, "logic"), GROUPS.map(function (g) { return [g, cat.nodes[g]]; }), node.type, L.condition);
    logic.className = "sb-logic";
    logic.addEventListener("change", function () {
      var list = children(node);
      var next;
      if (logic.value === "not") {
        next = { type: "not" };
        if (list.length === 1) { next.child = list[0]; }
        else if (list.length > 1) { next.child = { type: "or", children: list }; }
      } else { next = { type: logic.value, children: list }; }
      replaceAt(path, next);
      commit(true);
    });
    var items = el("ol", { className: "sb-children" });
    children(node).forEach(function (child, i) {
      items.appendChild(el("li", {}, [renderNode(child, path.concat([i]), depth + 1)]));
    });
    var actions = el("div", { className: "sb-actions" });
    // depth: the root group is 1; a condition in this group is depth + 1, at most max_depth
    var full = node.type === "not" && children(node).length >= 1;
    if (!full && depth >= cat.max_depth) { actions.appendChild(el("small", { text: L.depth })); }
    if (!full && depth < cat.max_depth) {
      var addCondition = el("button", { type: "button", className: "sb-add-condition", id: idFor(path, "add-condition"), text: "+ " + L.add_condition });
      addCondition.addEventListener("click", function () {
        setChildren(node, children(node).concat([newLeaf("")]));
        commit(true);
        var added = document.getElementById(idFor(path.concat([children(node).length - 1]), "what"));
        if (added) { added.focus(); }
      });
      actions.appendChild(addCondition);
      if (depth + 2 <= cat.max_depth) {
        var addGroup = el("button", { type: "button", className: "sb-add-group", id: idFor(path, "add-group"), text: "+ " + L.add_group });
        addGroup.addEventListener("click", function () {
          setChildren(node, children(node).concat([{ type: node.type === "or" ? "and" : "or", children: [newLeaf("")] }]));
          commit(true);
        });
        actions.appendChild(addGroup);
      } else {
        actions.appendChild(el("small", { text: L.depth }));
      }
    }
    return el("fieldset", { className: "sb-group sb-" + node.type, "data-path": path.join(".") }, [
      el("legend", {}, [logic, toolbar(path)]),
      items,
      actions,
      errorList(path),
    ]);
  }

  function whatSelect(node, path) {
    var s = el("select", { id: idFor(path, "what"), className: "sb-what", "aria-label": L.condition });
    var current = node.type === "field" ? node.field : node.type;
    s.appendChild(option("", L.choose, !current));
    [["contact", L.contact_group], ["account", L.account_group], ["custom", L.custom_group]].forEach(function (g) {
      var fields = cat.fields.filter(function (f) { return f.group === g[0]; });
      if (!fields.length) { return; }
      s.appendChild(el("optgroup", { label: g[1] }, fields.map(function (f) { return option(f.key, f.label, f.key === current); })));
    });
    s.appendChild(el("optgroup", { label: L.behaviour_group }, BEHAVIOUR.filter(function (t) { return cat.nodes[t]; }).map(function (t) {
      return option(t, cat.nodes[t], t === current);
    })));
    if (current && !fieldsByKey[current] && BEHAVIOUR.indexOf(current) < 0) {
      s.appendChild(option(current, current, true));  // unknown to the catalogue: kept, the server says why
    }
    s.addEventListener("change", function () { replaceAt(path, newLeaf(s.value)); commit(true); });
    return s;
  }

  function textInput(id, value, label, onInput, attrs) {
    var input = el("input", Object.assign({ id: id, type: "text", "aria-label": label, placeholder: label }, attrs || {}));
    input.value = value === undefined || value === null ? "" : String(value);
    input.addEventListener("input", function () { onInput(input.value); commit(false); });
    return input;
  }
  function numberInput(id, value, label, onInput, attrs) {
    return textInput(id, value, label, onInput, Object.assign({ type: "number" }, attrs || {}));
  }
  function labelled(text, control) { return el("label", { className: "sb-inline" }, [document.createTextNode(text + " "), control]); }
  function setOrDelete(obj, key, value) { if (value === null || value === "" || value === undefined) { delete obj[key]; } else { obj[key] = value; } }

  function fieldControls(node, path) {
    var field = fieldsByKey[node.field];
    if (!field) { return []; }
    var ops = select(idFor(path, "op"), opPairs(field.ops), node.op, L.condition);
    ops.className = "sb-op";
    ops.addEventListener("change", function () {
      node.op = ops.value;
      var value = coerce(field, node.op, node.value);
      if (value === undefined) { delete node.value; } else { node.value = value; }
      commit(true);
    });
    var kind = inputKind(field, node.op);
    var id = idFor(path, "value");
    var control = null;
    if (kind === "choice") {
      control = select(id, field.choices, node.value, L.value);
      control.addEventListener("change", function () { node.value = control.value; commit(false); });
    } else if (kind === "multi") {
      control = el("select", { id: id, multiple: true, "aria-label": L.value, size: String(Math.min(6, field.choices.length || 1)) });
      field.choices.forEach(function (c) { control.appendChild(option(c[0], c[1], (node.value || []).indexOf(c[0]) >= 0)); });
      control.addEventListener("change", function () {
        node.value = Array.prototype.filter.call(control.options, function (o) { return o.selected; }).map(function (o) { return o.value; });
        commit(false);
      });
    } else if (kind === "list") {
      control = textInput(id, (node.value || []).join(", "), L.values_hint, function (text) {
        node.value = text.split(",").map(function (v) { return v.trim(); }).filter(Boolean).map(function (v) {
          return field.kind === "number" && isFinite(Number(v)) ? Number(v) : v;
        });
      });
    } else if (kind === "days") {
      control = numberInput(id, node.value, L.value, function (text) { node.value = intOrNull(text); }, { min: "0", step: "1" });
    } else if (kind === "date") {
      control = textInput(id, node.value, L.value, function (text) { node.value = text; }, { type: "date" });
    } else if (kind === "number") {
      control = numberInput(id, node.value, L.value, function (text) { node.value = numberOrNull(text); }, { step: "any" });
    } else if (kind === "boolean") {
      control = select(id, [["true", L.yes], ["false", L.no]], String(node.value), L.value);
      control.addEventListener("change", function () { node.value = control.value === "true"; commit(false); });
    } else if (kind === "text") {
      control = textInput(id, node.value, L.value, function (text) { node.value = text; });
    }
    return [ops, control];
  }

  function touchpointControls(node, path) {
    var out = [];
    ["kind", "channel", "campaign"].forEach(function (key) {
      var attrs = key === "kind" ? { list: "sb-touchpoint-kinds" } : {};
      out.push(labelled(L[key], textInput(idFor(path, key), node[key], L[key], function (text) { setOrDelete(node, key, text.trim()); }, attrs)));
    });
    var props = el("div", { className: "sb-properties" });
    (node.properties || []).forEach(function (prop, i) {
      var key = textInput(idFor(path, "prop-" + i + "-key"), prop.key, L.property, function (text) { prop.key = text.trim(); });
      var op = select(idFor(path, "prop-" + i + "-op"), opPairs(cat.touchpoint.property_ops), prop.op || "eq", L.condition);
      op.addEventListener("change", function () { prop.op = op.value; commit(false); });
      var value = textInput(idFor(path, "prop-" + i + "-value"), prop.value, L.value, function (text) { prop.value = text; });
      var remove = el("button", { type: "button", className: "sb-remove", "aria-label": L.remove, title: L.remove, text: "×", id: idFor(path, "prop-" + i + "-remove") });
      remove.addEventListener("click", function () { node.properties.splice(i, 1); commit(true); });
      props.appendChild(el("div", { className: "sb-property" }, [key, op, value, remove]));
    });
    if ((node.properties || []).length < 5) {
      var add = el("button", { type: "button", className: "sb-add-property", id: idFor(path, "add-property"), text: "+ " + L.add_property });
      add.addEventListener("click", function () {
        node.properties = (node.properties || []).concat([{ key: "path", op: "eq", value: "" }]);
        commit(true);
      });
      props.appendChild(add);
    }
    out.push(props);
    out.push(labelled(L.at_least, numberInput(idFor(path, "at_least"), node.at_least, L.at_least, function (text) { setOrDelete(node, "at_least", intOrNull(text)); }, { min: "0", step: "1" })));
    out.push(labelled(L.at_most, numberInput(idFor(path, "at_most"), node.at_most, L.at_most, function (text) { setOrDelete(node, "at_most", intOrNull(text)); }, { min: "0", step: "1" })));
    out.push(labelled(L.within_days, numberInput(idFor(path, "within_days"), node.within_days, L.within_days, function (text) { setOrDelete(node, "within_days", intOrNull(text)); }, { min: "1", step: "1" })));
    var bots = el("input", { type: "checkbox", id: idFor(path, "include_bots"), checked: node.include_bots ? true : null });
    bots.addEventListener("change", function () { setOrDelete(node, "include_bots", bots.checked ? true : null); commit(false); });
    out.push(labelled(L.include_bots, bots));
    return out;
  }

  function leafControls(node, path) {
    if (node.type === "field") { return fieldControls(node, path); }
    if (node.type === "touchpoint") { return touchpointControls(node, path); }
    function opSelect(ops) {
      var s = select(idFor(path, "op"), opPairs(ops), node.op, L.condition);
      s.className = "sb-op";
      s.addEventListener("change", function () { node.op = s.value; commit(false); });
      return s;
    }
    function recordSelect(key, choices, asInt) {
      var s = select(idFor(path, "value"), choices, node[key], L.value, true);
      s.addEventListener("change", function () { node[key] = asInt ? intOrNull(s.value) : s.value; commit(false); });
      return s;
    }
    if (node.type === "tag") {
      return [opSelect(cat.tag.ops), textInput(idFor(path, "value"), node.value, L.value, function (text) { node.value = text; })];
    }
    if (node.type === "email") {
      var event = select(idFor(path, "event"), cat.email.events.map(function (e) { return [e, L[e] || e]; }), node.event, L.condition);
      event.addEventListener("change", function () { node.event = event.value; commit(false); });
      return [
        event,
        labelled(L.at_least, numberInput(idFor(path, "at_least"), node.at_least, L.at_least, function (text) { setOrDelete(node, "at_least", intOrNull(text)); }, { min: "1", step: "1" })),
        labelled(L.within_days, numberInput(idFor(path, "within_days"), node.within_days, L.within_days, function (text) { setOrDelete(node, "within_days", intOrNull(text)); }, { min: "1", step: "1" })),
      ];
    }
    if (node.type === "segment") { return [opSelect(cat.segment.ops), recordSelect("segment_id", cat.segment.choices, true)]; }
    if (node.type === "subscription") { return [opSelect(cat.subscription.ops), recordSelect("subscription", cat.subscription.choices, false)]; }
    if (node.type === "score") {
      return [
        recordSelect("scoring_model_id", cat.score.choices, true),
        opSelect(cat.score.ops),
        numberInput(idFor(path, "score"), node.value, L.value, function (text) { node.value = numberOrNull(text); }, { step: "any" }),
      ];
    }
    return [];
  }

  function renderLeaf(node, path) {
    return el("div", { className: "sb-leaf sb-" + node.type, "data-path": path.join(".") }, [
      el("div", { className: "sb-row" }, [whatSelect(node, path)].concat(leafControls(node, path)).concat([toolbar(path)])),
      errorList(path),
    ]);
  }

  function renderNode(node, path, depth) {
    if (isGroup(node)) { return renderGroup(node, path, depth); }
    if (!node || typeof node !== "object") { return el("div", { className: "sb-leaf" }, [errorList(path), toolbar(path)]); }
    return renderLeaf(node, path);
  }

  function render() {
    var active = document.activeElement;
    var focused = active && host.contains(active) ? active.id : null;
    var caret = null;
    try { caret = focused ? [active.selectionStart, active.selectionEnd] : null; } catch (e) { caret = null; }
    host.replaceChildren(renderNode(tree, [], 1), datalist());
    var again = focused && document.getElementById(focused);
    if (again) {
      again.focus();
      try { if (caret && caret[0] !== null) { again.setSelectionRange(caret[0], caret[1]); } } catch (e) { /* not a text input */ }
    }
  }
  function datalist() {
    return el("datalist", { id: "sb-touchpoint-kinds" }, cat.touchpoint.kinds.map(function (k) { return option(k, k); }));
  }

  // ---- live count ------------------------------------------------------------------------------
  function setErrors(list) {
    nodeErrors = {};
    (list || []).forEach(function (e) {
      var key = (wrapped ? [0].concat(e.path) : e.path).join(".");
      nodeErrors[key] = (nodeErrors[key] || []).concat(e.messages);
    });
  }
  function scheduleCount() {
    clearTimeout(timer);
    timer = setTimeout(count, 400);
  }
  function count() {
    var mine = ++seq;
    countEl.textContent = L.counting;
    countEl.setAttribute("aria-busy", "true");
    var body = new URLSearchParams();
    body.set("definition", textarea.value);
    body.set("format", "json");
    body.set("segment", host.getAttribute("data-segment") || "");
    var csrf = form.querySelector("input[name=csrfmiddlewaretoken]");
    fetch(host.getAttribute("data-count-url"), {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf ? csrf.value : "" },
    }).then(function (response) {
      if (!response.ok) { throw new Error(String(response.status)); }
      return response.json();
    }).then(function (data) {
      if (mine !== seq) { return; }  // a later edit is being counted
      countEl.removeAttribute("aria-busy");
      var before = JSON.stringify(nodeErrors);
      setErrors(data.nodes);
      if (tree && JSON.stringify(nodeErrors) !== before) { render(); }
      if (data.count === null) {
        countEl.replaceChildren(el("div", { className: "errors", role: "alert" }, [
          el("ul", {}, data.errors.map(function (m) { return el("li", { text: m }); })),
        ]));
      } else {
        countEl.replaceChildren(el("strong", { className: "sb-count", "data-count": String(data.count), text: data.text }));
      }
    }).catch(function () {
      if (mine !== seq) { return; }
      countEl.removeAttribute("aria-busy");
      countEl.textContent = L.count_failed;
    });
  }

  // ---- JSON <-> builder ------------------------------------------------------------------------
  var note = el("p", { className: "sb-note", hidden: true, text: L.json_invalid });
  function readJson() {
    var parsed;
    try { parsed = JSON.parse(textarea.value || "{}"); } catch (e) { parsed = undefined; }
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) { note.hidden = false; return false; }
    note.hidden = true;
    wrapped = !isGroup(parsed);
    tree = wrapped ? { type: "and", children: [parsed] } : parsed;
    return true;
  }
  textarea.addEventListener("input", function () {
    if (readJson()) { render(); }
    scheduleCount();
  });

  var toggle = el("input", { type: "checkbox", id: "segment-show-json" });
  var toggleRow = el("p", { className: "sb-json-toggle" }, [el("label", {}, [toggle, document.createTextNode(" " + L.show_json)])]);
  toggle.addEventListener("change", function () { jsonBox.hidden = !toggle.checked; });
  host.parentNode.insertBefore(toggleRow, jsonBox);
  host.parentNode.insertBefore(note, jsonBox);

  function applyKind() {
    var isStatic = host.getAttribute("data-static") === "1" || (kindSelect && kindSelect.value === "static");
    host.hidden = isStatic;
    toggleRow.hidden = isStatic;
    jsonBox.hidden = isStatic || !toggle.checked;
    countEl.hidden = isStatic;
  }
  if (kindSelect) {
    kindSelect.addEventListener("change", function () {
      applyKind();
      if (!host.hidden) { scheduleCount(); }
    });
  }

  if (readJson()) {
    setErrors(initialErrors);
    render();
  } else {
    toggle.checked = true;  // the JSON needs fixing first: show it
  }
  applyKind();
  if (!host.hidden) { count(); }
})();
