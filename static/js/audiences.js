/* The audience builder: edits the definition (the JSON in the form's textarea) as rows of conditions,
   with pickers filled from the workspace's event names and trait keys, and a live size estimate.
   Without this file the textarea is the editor; with it, both stay in step. Nested groups beyond the
   top level are edited as JSON (the builder says so). */
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

  /* One condition row. kind: event | no-event | trait | audience | no-audience. */
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
    } else {
      row.appendChild(el("span", {"class": "badge"}, kind === "audience" ? "In audience" : "Not in audience"));
      add("audience", input("Audience key", node.audience));
    }
    if (editable) {
      var remove = el("button", {type: "button", "class": "btn btn-link", "aria-label": "Remove condition"}, "Remove");
      remove.addEventListener("click", function () { row.remove(); row.dispatchEvent(new Event("change", {bubbles: true})); });
      row.appendChild(remove);
    } else {
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

  function kindOf(node) {
    if (!node || typeof node !== "object") return null;
    if ("event" in node) return "event";
    if ("trait" in node) return "trait";
    if ("audience" in node) return "audience";
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
    var join = box.querySelector("[data-audience-join]");
    var nested = box.querySelector("[data-audience-nested]");
    var estimate = box.querySelector("[data-audience-estimate]");
    var editable = !textarea.disabled;
    var timer = null;
    box.hidden = false;

    function render() {
      rows.innerHTML = "";
      var def;
      try { def = JSON.parse(textarea.value); } catch (e) { nested.hidden = false; return; }
      var group = def && (def.all || def.any);
      var children = Array.isArray(group) ? group : [def];
      var kinds = children.map(kindOf);
      var simple = kinds.every(Boolean);
      nested.hidden = simple;
      join.disabled = !simple || !editable;
      if (!simple) return;
      join.value = def && def.any ? "any" : "all";
      children.forEach(function (child, i) {
        var kind = kinds[i];
        rows.appendChild(conditionRow(kind, kind.indexOf("no-") === 0 ? child.not : child, editable));
      });
    }

    function write() {
      var conditions = Array.prototype.map.call(rows.querySelectorAll(".audience-row"), function (r) { return r.read(); });
      if (!conditions.length) return;
      var def = {};
      def[join.value] = conditions;
      textarea.value = JSON.stringify(def, null, 2);
      scheduleEstimate();
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

    rows.addEventListener("input", write);
    rows.addEventListener("change", write);
    join.addEventListener("change", write);
    textarea.addEventListener("change", function () { render(); scheduleEstimate(); });
    Array.prototype.forEach.call(box.querySelectorAll("[data-audience-add]"), function (button) {
      button.addEventListener("click", function () {
        var kind = button.getAttribute("data-audience-add");
        if (!nested.hidden) return;
        var blank = kind === "trait" ? {op: "exists"} : {};
        var row = conditionRow(kind, blank, true);
        rows.appendChild(row);
        row.querySelector("input").focus();
        write();
      });
    });
    render();
    fillPickers();
    runEstimate();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
