/* The mapping editor of the action page. Each field's JSON box (the no-JS form) stays the one thing the
   form submits; this script puts a picker in front of it and writes the same JSON into it:
   - Event field: {"@path": "$.traits.email"}, with fallbacks if missing written as the @if chain the
     catalog's defaults use ({"@if": {"exists": P1, "then": P1, "else": P2}});
   - Fixed value: a JSON string, number or boolean;
   - Template: {"@template": "Hello {{traits.first_name}}"}, with autocomplete of paths after "{{";
   - Advanced: the JSON box itself, for every other directive (destinations/mapping.py).
   A mapping the picker cannot show opens in Advanced, untouched. */
(function () {
  "use strict";

  var uid = 0;
  var OTHER = "\u0000other";

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function nextId(prefix) { uid += 1; return prefix + "-" + uid; }

  /* JSON as Python's json.dumps writes it (", " and ": "), so an untouched field keeps the server's text. */
  function pyJson(value) {
    if (Array.isArray(value)) return "[" + value.map(pyJson).join(", ") + "]";
    if (value && typeof value === "object") {
      return "{" + Object.keys(value).map(function (k) { return JSON.stringify(k) + ": " + pyJson(value[k]); }).join(", ") + "}";
    }
    return JSON.stringify(value);
  }

  /* The same JSON whatever the key order (the database does not keep it). */
  function canonical(value) {
    if (Array.isArray(value)) return "[" + value.map(canonical).join(",") + "]";
    if (value && typeof value === "object") {
      return "{" + Object.keys(value).sort().map(function (k) { return JSON.stringify(k) + ":" + canonical(value[k]); }).join(",") + "}";
    }
    return JSON.stringify(value);
  }

  function isObject(v) { return v !== null && typeof v === "object" && !Array.isArray(v); }
  function onlyKey(v, key) { return isObject(v) && Object.keys(v).length === 1 && Object.prototype.hasOwnProperty.call(v, key); }
  function isPath(v) { return onlyKey(v, "@path") && typeof v["@path"] === "string"; }

  /* [P1, P2, ...] for {"@path": P1} or the chain "P1 if it exists, else P2, else ..."; null otherwise. */
  function pathChain(v) {
    if (isPath(v)) return [v["@path"]];
    if (!onlyKey(v, "@if") || !isObject(v["@if"])) return null;
    var c = v["@if"];
    var keys = Object.keys(c).sort().join(",");
    if (keys !== "else,exists,then" && keys !== "exists,then") return null;
    if (!isPath(c.exists) || !isPath(c.then) || c.exists["@path"] !== c.then["@path"]) return null;
    if (c["else"] === undefined) return [c.then["@path"]];
    var rest = pathChain(c["else"]);
    return rest ? [c.then["@path"]].concat(rest) : null;
  }

  /* The picker's state for a field's JSON text: {mode, paths | value | text}, or null (Advanced only). */
  function read(text) {
    text = text.trim();
    if (!text) return { mode: "path", paths: [] };
    var v;
    try { v = JSON.parse(text); } catch (e) { return null; }
    if (v === null) return null;
    if (typeof v !== "object") return { mode: "fixed", value: v };
    if (onlyKey(v, "@literal") && v["@literal"] !== null && typeof v["@literal"] !== "object") {
      return { mode: "fixed", value: v["@literal"] };
    }
    if (onlyKey(v, "@template") && typeof v["@template"] === "string") return { mode: "template", text: v["@template"] };
    var paths = pathChain(v);
    return paths ? { mode: "path", paths: paths } : null;
  }

  function chain(paths) {
    if (paths.length === 1) return { "@path": paths[0] };
    return { "@if": { exists: { "@path": paths[0] }, then: { "@path": paths[0] }, "else": chain(paths.slice(1)) } };
  }

  function fixedValue(raw, type) {
    if (type === "boolean") return raw === "true";
    if ((type === "number" || type === "integer") && /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(raw.trim())) return Number(raw);
    return raw;
  }

  /* How a path reads in the pickers: without "$.", the root as "The whole event". */
  function pathLabel(path) {
    if (path === "$" || path === "$." || path === "") return "The whole event";
    return path.replace(/^\$\.?/, "");
  }
  function templatePath(path) { return path.replace(/^\$\.?/, ""); }

  function defaultPaths(mapping, out) {
    if (isPath(mapping)) { if (out.indexOf(mapping["@path"]) < 0) out.push(mapping["@path"]); return out; }
    if (mapping && typeof mapping === "object") {
      Object.keys(mapping).forEach(function (k) { defaultPaths(mapping[k], out); });
    }
    return out;
  }

  function FieldEditor(box, paths) {
    this.box = box;
    this.paths = paths;
    this.type = box.getAttribute("data-field-type") || "string";
    this.jsonBox = box.querySelector("[data-mapping-json]");
    this.textarea = this.jsonBox.querySelector("textarea");
    this.label = box.querySelector("[data-mapping-label]");
    this.name = this.label.firstChild.textContent.trim();
    this.defaultText = box.getAttribute("data-default") || "";
    var parsedDefault = null;
    try { parsedDefault = this.defaultText ? JSON.parse(this.defaultText) : null; } catch (e) { parsedDefault = null; }
    this.defaults = defaultPaths(parsedDefault, []);
    this.choices = JSON.parse(box.getAttribute("data-choices") || "[]");
    this.described = Array.prototype.slice.call(box.querySelectorAll(".help[id], .error[id]"))
      .map(function (n) { return n.id; }).join(" ");
    this.build();
    this.load(this.textarea.value, true);
  }

  FieldEditor.prototype.structured = function () { return this.type === "object" || this.type === "array"; };

  FieldEditor.prototype.build = function () {
    var self = this;
    var ui = el("div", { "class": "map-editor" });
    var group = nextId("mode");
    this.modes = el("div", { "class": "map-modes", role: "radiogroup", "aria-label": "How to fill " + this.name });
    this.radios = {};
    [["path", "Event field"], ["fixed", "Fixed value"], ["template", "Template"]].forEach(function (m) {
      var id = nextId("mode-" + m[0]);
      var radio = el("input", { type: "radio", name: group, value: m[0], id: id });
      var label = el("label", { "for": id, "class": "map-mode" });
      label.appendChild(radio);
      label.appendChild(document.createTextNode(" " + m[1]));
      radio.addEventListener("change", function () { self.show(m[0]); self.sync(); self.focusPrimary(); });
      self.radios[m[0]] = label;
      self.modes.appendChild(label);
    });
    ui.appendChild(this.modes);

    // Event field: one picker, then fallbacks read when the fields before them are missing.
    this.pathPane = el("div", { "class": "map-pane", "data-pane": "path" });
    this.rows = el("div", { "class": "map-path-rows" });
    this.pathPane.appendChild(this.rows);
    this.addFallback = el("button", { type: "button", "class": "btn btn-small btn-link" }, "Add a fallback if missing");
    this.addFallback.addEventListener("click", function () {
      var row = self.addPathRow("");
      row.select.focus();
    });
    this.pathPane.appendChild(this.addFallback);
    ui.appendChild(this.pathPane);

    // Fixed value: a text box, or a choice for booleans and fields with choices.
    this.fixedPane = el("div", { "class": "map-pane", "data-pane": "fixed" });
    if (this.type === "boolean" || this.choices.length) {
      this.fixed = el("select", { id: nextId("fixed") });
      var options = this.type === "boolean" ? [["true", "Yes (true)"], ["false", "No (false)"]] : this.choices;
      options.forEach(function (c) { self.fixed.appendChild(el("option", { value: c[0] }, c[1])); });
    } else {
      this.fixed = el("input", { type: "text", id: nextId("fixed"), autocomplete: "off" });
      if (this.type === "number" || this.type === "integer") this.fixed.setAttribute("inputmode", "decimal");
    }
    this.fixed.setAttribute("aria-label", this.name + ": fixed value");
    this.fixed.addEventListener("input", function () { self.sync(); });
    this.fixed.addEventListener("change", function () { self.sync(); });
    this.fixedPane.appendChild(this.fixed);
    ui.appendChild(this.fixedPane);

    ui.appendChild(this.buildTemplatePane());

    var tools = el("div", { "class": "map-tools" });
    this.advanced = el("button", { type: "button", "class": "btn btn-small btn-secondary", "aria-pressed": "false" }, "Advanced (JSON)");
    this.advanced.addEventListener("click", function () { self.toggleAdvanced(); });
    tools.appendChild(this.advanced);
    if (this.defaultText) {
      this.reset = el("button", { type: "button", "class": "btn btn-small btn-link" }, "Use the default");
      this.reset.addEventListener("click", function () {
        self.textarea.value = pyJson(JSON.parse(self.defaultText));
        self.load(self.textarea.value, false);
        self.focusPrimary();
      });
      tools.appendChild(this.reset);
    }
    ui.appendChild(tools);
    this.note = el("p", { "class": "map-note", role: "status" });
    this.note.hidden = true;
    ui.appendChild(this.note);

    this.jsonBox.parentNode.insertBefore(ui, this.jsonBox);
    this.textarea.setAttribute("aria-label", this.name + ": mapping JSON");
    this.textarea.addEventListener("input", function () { self.showReset(); });
  };

  FieldEditor.prototype.buildTemplatePane = function () {
    var self = this;
    var pane = el("div", { "class": "map-pane", "data-pane": "template" });
    var wrap = el("div", { "class": "map-template" });
    var listId = nextId("suggest");
    this.template = el("input", {
      type: "text", id: nextId("template"), autocomplete: "off", spellcheck: "false", "class": "code",
      role: "combobox", "aria-autocomplete": "list", "aria-expanded": "false", "aria-controls": listId,
      "aria-label": this.name + ": template", placeholder: "Order {{properties.order_id}}",
    });
    this.suggest = el("ul", { id: listId, role: "listbox", "class": "map-suggest", "aria-label": "Fields of the event" });
    this.suggest.hidden = true;
    wrap.appendChild(this.template);
    wrap.appendChild(this.suggest);
    pane.appendChild(wrap);

    this.insert = el("select", { "class": "map-insert", "aria-label": this.name + ": insert a field into the template" });
    this.insert.appendChild(el("option", { value: "" }, "Insert a field…"));
    this.templatePaths().forEach(function (p) { self.insert.appendChild(el("option", { value: p }, p)); });
    this.insert.addEventListener("change", function () {
      if (!self.insert.value) return;
      var input = self.template;
      var at = input.selectionStart === null ? input.value.length : input.selectionStart;
      var text = "{{" + self.insert.value + "}}";
      input.value = input.value.slice(0, at) + text + input.value.slice(input.selectionEnd === null ? at : input.selectionEnd);
      self.insert.value = "";
      input.focus();
      input.setSelectionRange(at + text.length, at + text.length);
      self.sync();
    });
    pane.appendChild(this.insert);

    this.template.addEventListener("input", function () { self.sync(); self.complete(); });
    this.template.addEventListener("click", function () { self.complete(); });
    this.template.addEventListener("blur", function () { self.closeSuggest(); });
    this.template.addEventListener("keydown", function (event) { self.suggestKey(event); });
    return pane;
  };

  FieldEditor.prototype.templatePaths = function () {
    var seen = {};
    return this.defaults.concat(this.paths.map(function (p) { return p.path; }))
      .map(templatePath).filter(function (p) {
        if (!p || seen[p]) return false;
        seen[p] = true;
        return true;
      });
  };

  /* Autocomplete: after an unclosed "{{", list the paths matching what follows it. */
  FieldEditor.prototype.token = function () {
    var input = this.template;
    var at = input.selectionStart;
    if (at === null || at !== input.selectionEnd) return null;
    var m = /\{\{\s*([^{}\s]*)$/.exec(input.value.slice(0, at));
    return m ? { start: at - m[1].length, end: at, query: m[1].toLowerCase() } : null;
  };
  FieldEditor.prototype.complete = function () {
    var self = this;
    var t = this.token();
    if (!t) { this.closeSuggest(); return; }
    var all = this.templatePaths();
    var starts = all.filter(function (p) { return p.toLowerCase().indexOf(t.query) === 0; });
    var inside = all.filter(function (p) { return p.toLowerCase().indexOf(t.query) > 0; });
    var found = starts.concat(inside).slice(0, 8);
    this.suggest.innerHTML = "";
    if (!found.length) { this.closeSuggest(); return; }
    found.forEach(function (p, i) {
      var li = el("li", { role: "option", id: self.suggest.id + "-" + i, "aria-selected": i === 0 ? "true" : "false" }, p);
      li.addEventListener("mousedown", function (event) { event.preventDefault(); self.choose(p); });
      self.suggest.appendChild(li);
    });
    this.active = 0;
    this.suggest.hidden = false;
    this.template.setAttribute("aria-expanded", "true");
    this.template.setAttribute("aria-activedescendant", this.suggest.id + "-0");
  };
  FieldEditor.prototype.closeSuggest = function () {
    this.suggest.hidden = true;
    this.template.setAttribute("aria-expanded", "false");
    this.template.removeAttribute("aria-activedescendant");
  };
  FieldEditor.prototype.suggestKey = function (event) {
    if (this.suggest.hidden) return;
    var items = this.suggest.children;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      items[this.active].setAttribute("aria-selected", "false");
      this.active = (this.active + (event.key === "ArrowDown" ? 1 : items.length - 1)) % items.length;
      items[this.active].setAttribute("aria-selected", "true");
      this.template.setAttribute("aria-activedescendant", items[this.active].id);
    } else if (event.key === "Enter" || event.key === "Tab") {
      event.preventDefault();  // Enter would submit the form
      this.choose(items[this.active].textContent);
    } else if (event.key === "Escape") {
      event.preventDefault();
      this.closeSuggest();
    }
  };
  FieldEditor.prototype.choose = function (path) {
    var t = this.token();
    if (!t) return;
    var input = this.template;
    var after = input.value.slice(t.end);
    var close = /^\s*\}\}/.test(after) ? "" : "}}";
    input.value = input.value.slice(0, t.start) + path + close + after;
    var at = t.start + path.length + (close ? 2 : after.indexOf("}}") + 2);
    input.setSelectionRange(at, at);
    this.closeSuggest();
    this.sync();
  };

  /* One event-field picker: the field's default paths, the recent events' paths, the common ones. */
  FieldEditor.prototype.addPathRow = function (value) {
    var self = this;
    var first = this.rows.children.length === 0;
    var row = el("div", { "class": "map-path-row" });
    if (!first) row.appendChild(el("span", { "class": "map-else", "aria-hidden": "true" }, "if missing:"));
    var select = el("select", { id: nextId("path"), "class": "map-path" });
    select.setAttribute("aria-label", first ? this.name + ": event field" : this.name + ": if missing, event field");
    select.appendChild(el("option", { value: "" }, first ? "— Not mapped —" : "— Choose a field —"));
    var known = {};
    var groups = [
      ["Default for this field", this.defaults.map(function (p) {
        var known = self.paths.filter(function (q) { return q.path === p; })[0];
        return { path: p, example: known ? known.example : null };
      })],
      ["In recent events", this.paths.filter(function (p) { return p.seen; })],
      ["Other fields", this.paths.filter(function (p) { return !p.seen; })],
    ];
    if (value && !this.defaults.concat(this.paths.map(function (p) { return p.path; })).some(function (p) { return p === value; })) {
      groups.unshift(["Current", [{ path: value, example: null }]]);
    }
    groups.forEach(function (g) {
      var rows = g[1].filter(function (p) { return !known[p.path]; });
      if (!rows.length) return;
      var og = el("optgroup", { label: g[0] });
      rows.forEach(function (p) {
        known[p.path] = true;
        var example = p.example === null || p.example === undefined ? "" : " — " + p.example;
        og.appendChild(el("option", { value: p.path }, pathLabel(p.path) + example));
      });
      select.appendChild(og);
    });
    select.appendChild(el("option", { value: OTHER }, "Other path…"));
    var custom = el("input", { type: "text", "class": "code map-custom", spellcheck: "false", autocomplete: "off",
                               placeholder: "$.properties.products[0].sku",
                               "aria-label": this.name + (first ? ": type a path" : ": if missing, type a path") });
    custom.hidden = true;
    select.value = value;
    select.addEventListener("change", function () {
      custom.hidden = select.value !== OTHER;
      if (!custom.hidden) custom.focus();
      if (first && !select.value) {  // "Not mapped": its fallbacks go too
        self.pathRows.slice(1).forEach(function (r) { r.row.remove(); });
        self.pathRows.length = 1;
      }
      self.sync();
    });
    custom.addEventListener("input", function () { self.sync(); });
    row.appendChild(select);
    row.appendChild(custom);
    var entry = { row: row, select: select, custom: custom };
    if (!first) {
      var remove = el("button", { type: "button", "class": "btn btn-small btn-link" }, "Remove");
      remove.setAttribute("aria-label", "Remove this fallback of " + this.name);
      remove.addEventListener("click", function () {
        row.remove();
        self.pathRows.splice(self.pathRows.indexOf(entry), 1);
        self.sync();
        self.addFallback.focus();
      });
      row.appendChild(remove);
    }
    this.rows.appendChild(row);
    this.pathRows.push(entry);
    return entry;
  };

  FieldEditor.prototype.load = function (text, initial) {
    var state = read(text);
    this.showReset();
    this.setAdvanced(state === null);
    if (state === null) {
      this.say(initial ? "This mapping uses JSON the picker cannot show; it is edited as JSON below." : "");
      return;
    }
    this.say("");
    this.rows.innerHTML = "";
    this.pathRows = [];
    var paths = state.mode === "path" ? state.paths : [];
    this.addPathRow(paths[0] || "");
    for (var i = 1; i < paths.length; i++) this.addPathRow(paths[i]);
    this.fixed.value = state.mode === "fixed" ? String(state.value) : (this.fixed.tagName === "SELECT" ? this.fixed.value : "");
    this.template.value = state.mode === "template" ? state.text : "";
    this.addFallback.hidden = !paths.length;
    var structured = this.structured();
    this.radios.fixed.hidden = structured && state.mode !== "fixed";
    this.radios.template.hidden = structured && state.mode !== "template";
    this.single = structured && state.mode === "path";  // an object is read from the event: no choice to show
    this.modes.hidden = this.single;
    this.radios[state.mode].querySelector("input").checked = true;
    this.show(state.mode);
  };

  FieldEditor.prototype.mode = function () {
    var checked = this.modes.querySelector("input:checked");
    return checked ? checked.value : "path";
  };

  FieldEditor.prototype.show = function (mode) {
    this.pathPane.hidden = mode !== "path";
    this.fixedPane.hidden = mode !== "fixed";
    this.templatePane().hidden = mode !== "template";
    this.label.htmlFor = this.primary().id;
  };
  FieldEditor.prototype.templatePane = function () { return this.template.closest("[data-pane]"); };

  FieldEditor.prototype.primary = function () {
    if (this.advancedOn) return this.textarea;
    var mode = this.mode();
    if (mode === "fixed") return this.fixed;
    if (mode === "template") return this.template;
    return this.pathRows[0].select;
  };
  FieldEditor.prototype.focusPrimary = function () { this.primary().focus(); };

  /* Write the picker's state into the JSON box (the form field that is submitted). */
  FieldEditor.prototype.sync = function () {
    if (this.advancedOn) return;
    var mode = this.mode();
    this.addFallback.hidden = !this.pathRows[0].select.value;
    var text = "";
    if (mode === "path") {
      var paths = this.pathRows.map(function (r) {
        return r.select.value === OTHER ? r.custom.value.trim() : r.select.value;
      }).filter(Boolean);
      text = paths.length ? pyJson(chain(paths)) : "";
    } else if (mode === "fixed") {
      text = pyJson(fixedValue(this.fixed.value, this.type));
    } else if (this.template.value) {
      text = pyJson({ "@template": this.template.value });
    }
    this.textarea.value = text;
    this.showReset();
  };

  FieldEditor.prototype.showReset = function () {
    if (!this.reset) return;
    var current;
    try { current = canonical(JSON.parse(this.textarea.value)); } catch (e) { current = null; }
    this.reset.hidden = current === canonical(JSON.parse(this.defaultText));
  };

  FieldEditor.prototype.setAdvanced = function (on) {
    this.advancedOn = on;
    this.advanced.setAttribute("aria-pressed", on ? "true" : "false");
    this.jsonBox.hidden = !on;
    this.modes.hidden = on || !!this.single;
    this.pathPane.hidden = on || this.mode() !== "path";
    this.fixedPane.hidden = on || this.mode() !== "fixed";
    this.templatePane().hidden = on || this.mode() !== "template";
    this.label.htmlFor = on ? this.textarea.id : this.label.htmlFor;
    [this.textarea].concat(Array.prototype.slice.call(this.box.querySelectorAll(".map-editor select, .map-editor input")))
      .forEach(function (n) { if (this.described) n.setAttribute("aria-describedby", this.described); }, this);
  };

  FieldEditor.prototype.toggleAdvanced = function () {
    if (!this.advancedOn) {
      this.sync();
      this.setAdvanced(true);
      this.say("");
      this.textarea.focus();
      return;
    }
    var text = this.textarea.value;
    if (read(text) === null) {
      var valid = true;
      try { if (text.trim()) JSON.parse(text); } catch (e) { valid = false; }
      this.say(valid ? "The picker cannot show this JSON. Clear the box or use the default to go back to the picker."
                     : "This is not valid JSON yet: fix it, or clear the box to go back to the picker.");
      return;
    }
    this.load(text, false);
    this.focusPrimary();
  };

  FieldEditor.prototype.say = function (text) {
    this.note.textContent = text;
    this.note.hidden = !text;
  };

  function init() {
    var root = document.querySelector("[data-mapping-editor]");
    var data = document.getElementById("mapping-paths");
    if (!root || !data) return;
    var paths = JSON.parse(data.textContent);
    root.querySelector("[data-mapping-help-json]").hidden = true;
    root.querySelector("[data-mapping-help-editor]").hidden = false;
    Array.prototype.forEach.call(root.querySelectorAll("[data-mapping-field]"), function (box) {
      new FieldEditor(box, paths);
    });
  }

  document.addEventListener("DOMContentLoaded", init);
})();
