/* The audience builder: edits the definition (the JSON in the form's textarea, the one source of truth)
   as a tree: groups ("all" / "any" / "none" / "not all" of these) holding conditions and nested groups,
   each movable and removable, with pickers filled from the workspace's event names and trait keys and a
   live size estimate. Every edit changes the parsed tree and writes it back to the textarea; structural
   edits (add, remove, move, a group's join) render the tree again from it. Without this file the
   textarea is the editor. */
(function () {
  "use strict";

  var OPS = ["=", "!=", ">", "<", "contains", "exists", "not exists", "in"];

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function select(label, options, value) {
    var s = el("select", {"aria-label": label});
    options.forEach(function (o) {
      var opt = el("option", {value: o[0]}, o[1]);
      if (o[0] === value) opt.selected = true;
      s.appendChild(opt);
    });
    return s;
  }
  function input(label, value, attrs) {
    var i = el("input", Object.assign({type: "text", "aria-label": label, placeholder: label}, attrs || {}));
    i.value = value === undefined || value === null ? "" : String(value);
    return i;
  }
  function parseValue(text) {
    var t = text.trim();
    if (t === "true") return true;
    if (t === "false") return false;
    if (t !== "" && !isNaN(Number(t))) return Number(t);
    return t;
  }
  function showValue(v) { return Array.isArray(v) ? v.join(", ") : (v === undefined ? "" : String(v)); }
  function splitDuration(d) {
    var m = /^(\d+)([mhd])$/.exec(d || "");
    return m ? [m[1], m[2]] : ["", "d"];
  }
  var UNITS = [["m", "minutes"], ["h", "hours"], ["d", "days"]];

  /* One condition row. kind: event | no-event | trait | audience | no-audience | segment. */
  function conditionRow(kind, node, editable) {
    var row = el("div", {"class": "builder-row audience-row", "data-kind": kind});
    var parts = {};
    function add(name, control) { parts[name] = control; row.appendChild(control); return control; }
    if (kind === "event" || kind === "no-event") {
      row.appendChild(el("span", {"class": "badge"}, kind === "event" ? "Did" : "Did not do"));
      add("event", input("Event name", node.event, {list: "audience-events"}));
      if (kind === "event") {
        var countKey = ["at_least", "at_most", "exactly"].filter(function (k) { return k in node; })[0] || "at_least";
        add("countKind", select("Count", [["at_least", "at least"], ["at_most", "at most"], ["exactly", "exactly"]], countKey));
        add("count", input("Times", countKey in node ? node[countKey] : 1, {type: "number", min: "0", "class": "small"}));
      }
      var mode = node.between ? "between" : (node.within ? "within" : "ever");
      add("window", select("Window", [["ever", "ever"], ["within", "in the last"], ["between", "between"]], mode));
      var w = splitDuration(node.within || (node.between || [])[0]);
      add("amount", input("Amount", w[0], {type: "number", min: "1", "class": "small"}));
      add("unit", select("Unit", UNITS, w[1]));
      var w2 = splitDuration((node.between || [])[1]);
      add("amount2", input("Until (ago)", w2[0], {type: "number", min: "0", "class": "small"}));
      add("unit2", select("Until unit", UNITS, w2[1]));
      var where = Array.isArray(node.where) ? node.where[0] : node.where;
      add("wherePath", input("Property (optional)", where ? where.path.replace(/^properties\./, "") : ""));
      add("whereOp", select("Property operator", OPS.map(function (o) { return [o, o]; }), where ? where.op : "="));
      add("whereValue", input("Property value", where ? showValue(where.value) : ""));
      var sync = function () {
        var m = parts.window.value;
        parts.amount.hidden = parts.unit.hidden = m === "ever";
        parts.amount2.hidden = parts.unit2.hidden = m !== "between";
      };
      parts.window.addEventListener("change", sync);
      sync();
    } else if (kind === "trait") {
      row.appendChild(el("span", {"class": "badge"}, "Trait"));
      add("trait", input("Trait", node.trait, {list: "audience-traits"}));
      add("op", select("Operator", OPS.map(function (o) { return [o, o]; }), node.op || "="));
      add("value", input("Value", showValue(node.value)));
    } else if (kind === "segment") {
      row.appendChild(el("span", {"class": "badge"}, "In manual segment"));
      add("segment", input("Segment id", node.segment, {type: "number", min: "0", "class": "small"}));
    } else {
      row.appendChild(el("span", {"class": "badge"}, kind === "audience" ? "In audience" : "Not in audience"));
      add("audience", input("Audience key", node.audience));
    }
    if (!editable) {
      Array.prototype.forEach.call(row.querySelectorAll("input, select"), function (c) { c.disabled = true; });
    }
    row.read = function () {
      if (kind === "trait") {
        var t = {trait: parts.trait.value.trim(), op: parts.op.value};
        if (t.op === "in") t.value = parts.value.value.split(",").map(parseValue);
        else if (t.op !== "exists" && t.op !== "not exists") t.value = parseValue(parts.value.value);
        return t;
      }
      if (kind === "audience") return {audience: parts.audience.value.trim()};
      if (kind === "segment") {
        var id = parseInt(parts.segment.value, 10);
        return {segment: isNaN(id) ? parts.segment.value.trim() : id};
      }
      if (kind === "no-audience") return {not: {audience: parts.audience.value.trim()}};
      var e = {event: parts.event.value.trim()};
      if (kind === "event") {
        var n = parseInt(parts.count.value, 10);
        if (!(parts.countKind.value === "at_least" && n === 1)) e[parts.countKind.value] = isNaN(n) ? 1 : n;
      }
      if (parts.window.value === "within") e.within = (parts.amount.value || "1") + parts.unit.value;
      if (parts.window.value === "between") {
        e.between = [(parts.amount.value || "1") + parts.unit.value, (parts.amount2.value || "0") + parts.unit2.value];
      }
      if (parts.wherePath.value.trim()) {
        var f = {path: "properties." + parts.wherePath.value.trim().replace(/^properties\./, ""), op: parts.whereOp.value};
        if (f.op === "in") f.value = parts.whereValue.value.split(",").map(parseValue);
        else if (f.op !== "exists" && f.op !== "not exists") f.value = parseValue(parts.whereValue.value);
        e.where = f;
      }
      return kind === "no-event" ? {not: e} : e;
    };
    return row;
  }

  var JOINS = [["all", "all of these"], ["any", "any of these"], ["none", "none of these"], ["notall", "not all of these"]];
  var ADDS = [["event", "+ Did an event"], ["no-event", "+ Did not do an event"], ["trait", "+ Trait"],
              ["audience", "+ In an audience"], ["group", "+ Group"]];
  var MAX_GROUP_DEPTH = 10;  // the server accepts 12 levels; conditions sit one below their group
  var nextId = 1;

  /* {join, list} of a group node (list is the tree's own array), or null for a condition. */
  function groupInfo(node) {
    if (!node || typeof node !== "object") return null;
    if (Array.isArray(node.all)) return {join: "all", list: node.all};
    if (Array.isArray(node.any)) return {join: "any", list: node.any};
    if (node.not && typeof node.not === "object" && !Array.isArray(node.not)) {
      if (Array.isArray(node.not.any)) return {join: "none", list: node.not.any};
      if (Array.isArray(node.not.all)) return {join: "notall", list: node.not.all};
    }
    return null;
  }
  function makeGroup(join, list) {
    if (join === "any") return {any: list};
    if (join === "none") return {not: {any: list}};
    if (join === "notall") return {not: {all: list}};
    return {all: list};
  }
  function blank(kind) {
    if (kind === "group") return {any: [{event: ""}]};
    if (kind === "trait") return {trait: "", op: "exists"};
    if (kind === "no-event") return {not: {event: ""}};
    if (kind === "audience") return {audience: ""};
    return {event: ""};
  }

  function kindOf(node) {
    if (!node || typeof node !== "object") return null;
    if ("event" in node) return "event";
    if ("trait" in node) return "trait";
    if ("audience" in node) return "audience";
    if ("segment" in node) return "segment";
    if ("not" in node && node.not && "event" in node.not) return "no-event";
    if ("not" in node && node.not && "audience" in node.not) return "no-audience";
    return null;
  }

  /* New audience: the "Members" radios show the rules part (builder, JSON) or the manual part. */
  function initKind(form) {
    var radios = form.querySelectorAll("[data-audience-kind]");
    if (!radios.length) return;
    function sync() {
      var kind = (form.querySelector("[data-audience-kind]:checked") || {}).value || "rules";
      Array.prototype.forEach.call(form.querySelectorAll("[data-audience-part]"), function (part) {
        part.hidden = part.getAttribute("data-audience-part") !== kind;
      });
    }
    Array.prototype.forEach.call(radios, function (r) { r.addEventListener("change", sync); });
    sync();
  }

  function init() {
    var form = document.querySelector("[data-audience-form]");
    if (!form) return;
    initKind(form);
    var box = form.querySelector("[data-audience-builder]");
    if (!box) return;  // a manual audience: nothing to build
    var textarea = form.querySelector("[data-audience-definition]");
    var rows = box.querySelector("[data-audience-rows]");
    var notice = box.querySelector("[data-audience-notice]");
    var estimate = box.querySelector("[data-audience-estimate]");
    var editable = !textarea.disabled;
    var timer = null;
    var holder = {root: null};  // holder.root is the tree being edited
    var focusNode = null;       // the node whose row takes the focus after the next render
    box.hidden = false;

    function write() {
      textarea.value = JSON.stringify(holder.root, null, 2);
      scheduleEstimate();
    }
    function changed() { write(); render(); }

    function render() {
      rows.innerHTML = "";
      var def;
      try { def = JSON.parse(textarea.value); } catch (e) {
        notice.hidden = false;
        notice.textContent = "The JSON below is not valid: fix it there, then the builder follows.";
        return;
      }
      notice.hidden = true;
      // A single condition shows as a group of one; the group is written on the first edit.
      holder.root = groupInfo(def) ? def : {all: [def]};
      rows.appendChild(groupBox({parent: holder, key: "root"}, 0, null));
      if (focusNode) {
        var target = rows.querySelector("[data-focus] input, [data-focus] select");
        if (target) target.focus();
        focusNode = null;
      }
    }

    function groupBox(slot, depth, controls) {
      var node = slot.parent[slot.key];
      var info = groupInfo(node);
      var box = el("div", {"class": "audience-group", "role": "group", "data-depth": String(depth),
                           "aria-label": depth ? "Group of conditions" : "Conditions"});
      if (node === focusNode) box.setAttribute("data-focus", "");
      var head = el("div", {"class": "builder-join"});
      var joinId = "audience-join-" + (nextId++);
      head.appendChild(el("label", {"for": joinId}, depth ? "Group: people who match" : "People who match"));
      var join = select("Match", JOINS, info.join);
      join.id = joinId;
      join.disabled = !editable;
      join.setAttribute("data-audience-join", "");
      join.addEventListener("change", function () {
        slot.parent[slot.key] = makeGroup(join.value, info.list);
        changed();
      });
      head.appendChild(join);
      if (controls) head.appendChild(controls);
      box.appendChild(head);
      info.list.forEach(function (child, i) {
        var what = groupInfo(child) ? "group" : "condition";
        box.appendChild(item({parent: info.list, key: i}, depth, editable ? itemControls(info.list, i, what) : null));
      });
      if (!info.list.length) box.appendChild(el("p", {"class": "help"}, "Empty group: add a condition, or remove the group."));
      if (editable) {
        var bar = el("div", {"class": "button-row"});
        ADDS.forEach(function (a) {
          if (a[0] === "group" && depth >= MAX_GROUP_DEPTH) return;
          var b = el("button", {type: "button", "class": "btn btn-secondary btn-small", "data-audience-add": a[0]}, a[1]);
          b.addEventListener("click", function () {
            var fresh = blank(a[0]);
            info.list.push(fresh);
            focusNode = fresh;
            changed();
          });
          bar.appendChild(b);
        });
        box.appendChild(bar);
      }
      return box;
    }

    /* The node in `slot` (a condition row, a nested group, or a "not" of something else) with its
       `controls` (move up / move down / remove), inside a group at `depth`. */
    function item(slot, depth, controls) {
      var node = slot.parent[slot.key];
      if (groupInfo(node)) return groupBox(slot, depth + 1, controls);
      var kind = kindOf(node);
      var row;
      if (kind) {
        row = conditionRow(kind, kind.indexOf("no-") === 0 ? node.not : node, editable);
        var edit = function () { slot.parent[slot.key] = row.read(); write(); };
        row.addEventListener("input", edit);
        row.addEventListener("change", edit);
      } else if (node && typeof node === "object" && "not" in node) {
        row = el("div", {"class": "audience-not"});
        row.appendChild(el("span", {"class": "badge"}, "Not"));
        row.appendChild(item({parent: node, key: "not"}, depth, null));
      } else {
        row = el("div", {"class": "builder-row audience-row"});
        row.appendChild(el("code", {}, JSON.stringify(node)));
      }
      if (node === focusNode) row.setAttribute("data-focus", "");
      if (controls) row.appendChild(controls);
      return row;
    }

    function itemControls(list, i, what) {
      var span = el("span", {"class": "audience-item-actions"});
      [["up", "↑", "Move " + what + " up", i > 0], ["down", "↓", "Move " + what + " down", i < list.length - 1],
       ["remove", "Remove", "Remove " + what, true]].forEach(function (c) {
        if (!c[3]) return;
        var b = el("button", {type: "button", "class": "btn btn-link", "aria-label": c[2], title: c[2]}, c[1]);
        b.addEventListener("click", function () {
          if (c[0] === "remove") list.splice(i, 1);
          else {
            var j = c[0] === "up" ? i - 1 : i + 1;
            var t = list[i]; list[i] = list[j]; list[j] = t;
          }
          changed();
        });
        span.appendChild(b);
      });
      return span;
    }

    function scheduleEstimate() {
      clearTimeout(timer);
      timer = setTimeout(runEstimate, 350);
    }

    function runEstimate() {
      var def;
      try { def = JSON.parse(textarea.value); } catch (e) { estimate.textContent = "Estimated size: the JSON is not valid."; return; }
      var token = form.querySelector("[name=csrfmiddlewaretoken]").value;
      fetch(form.getAttribute("data-estimate-url"), {
        method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json", "X-CSRFToken": token},
        body: JSON.stringify({definition: def})
      }).then(function (r) { return r.json().then(function (body) { return [r.ok, body]; }); })
        .then(function (res) {
          if (!res[0]) { estimate.textContent = "Estimated size: " + (res[1].message || "not available"); return; }
          var b = res[1];
          estimate.textContent = "Estimated size: " + b.estimate + (b.estimate === 1 ? " person" : " people") +
            (b.sampled < b.total ? " (from a sample of " + b.sampled + " of " + b.total + ")" : " of " + b.total);
        })
        .catch(function () { estimate.textContent = "Estimated size: not available right now."; });
    }

    function fillPickers() {
      fetch(form.getAttribute("data-vocabulary-url"), {credentials: "same-origin"})
        .then(function (r) { return r.ok ? r.json() : {events: [], traits: []}; })
        .then(function (v) {
          [["audience-events", v.events], ["audience-traits", v.traits]].forEach(function (pair) {
            var list = document.getElementById(pair[0]);
            list.innerHTML = "";
            pair[1].forEach(function (name) { list.appendChild(el("option", {value: name})); });
          });
        }).catch(function () {});
    }

    textarea.addEventListener("change", function () { render(); scheduleEstimate(); });
    render();
    fillPickers();
    runEstimate();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
