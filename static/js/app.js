/* Small enhancements for the Pipelines UI. Every page works without this file; it only adds
   conveniences: filtering, copy buttons, inline test results, the condition builder, the live debugger. */
(function () {
  "use strict";

  function $(selector, root) { return (root || document).querySelector(selector); }
  function $all(selector, root) { return Array.prototype.slice.call((root || document).querySelectorAll(selector)); }
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  /* Workspace switcher: go to the chosen workspace. */
  function initSwitcher() {
    var select = $("[data-workspace-switcher] select");
    if (!select) return;
    select.addEventListener("change", function () { window.location.assign(select.value); });
  }

  /* Phone: the main navigation scrolls sideways; show the current page's link. */
  function initMainNav() {
    var nav = $(".mainnav"), current = $(".mainnav [aria-current=page]");
    if (nav && current && nav.scrollWidth > nav.clientWidth) {
      nav.scrollLeft = current.offsetLeft - nav.offsetLeft - 16;
    }
  }

  /* Catalog search: filter the entries as you type (the form still works with ?q= without JS). */
  function initCatalogFilter() {
    var input = $("[data-catalog-filter]");
    var list = $("[data-catalog]");
    if (!input || !list) return;
    var empty = $("[data-catalog-empty]");
    input.addEventListener("input", function () {
      var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      var shown = 0;
      $all("li", list).forEach(function (item) {
        var hay = item.getAttribute("data-search") || "";
        var match = words.every(function (w) { return hay.indexOf(w) !== -1; });
        item.hidden = !match;
        if (match) shown++;
      });
      if (empty) empty.hidden = shown > 0;
    });
  }

  /* Copy buttons: data-copy="#id" copies that element's text. */
  function initCopy() {
    document.addEventListener("click", function (event) {
      var button = event.target.closest("[data-copy]");
      if (!button) return;
      var target = $(button.getAttribute("data-copy"));
      if (!target) return;
      var text = target.textContent;
      var done = function () {
        var label = button.textContent;
        button.textContent = "Copied!";
        setTimeout(function () { button.textContent = label; }, 1500);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, function () { fallbackCopy(text); done(); });
      } else {
        fallbackCopy(text);
        done();
      }
    });
  }
  function fallbackCopy(text) {
    var area = el("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    try { document.execCommand("copy"); } catch (e) { /* the text stays selectable on the page */ }
    document.body.removeChild(area);
  }

  /* Reveal / hide a secret shown masked. */
  function initSecrets() {
    $all("[data-secret]").forEach(function (box) {
      var value = $("[data-secret-value]", box);
      var mask = $("[data-secret-mask]", box);
      var toggle = $("[data-secret-toggle]", box);
      toggle.addEventListener("click", function () {
        var reveal = value.hidden;
        value.hidden = !reveal;
        mask.hidden = reveal;
        toggle.textContent = reveal ? "Hide" : "Reveal";
        toggle.setAttribute("aria-expanded", reveal ? "true" : "false");
      });
    });
  }

  /* Forms asking for confirmation before they submit. */
  function initConfirm() {
    document.addEventListener("submit", function (event) {
      var form = event.target.closest("[data-confirm]");
      if (form && !window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
    });
  }

  /* An error summary (or a never-matching trigger warning) on a page that just loaded: bring it into view
     and focus it, so a failed save never leaves its errors out of sight. Its links focus their field. */
  function initErrorSummary() {
    var summary = $("[data-error-summary]");
    if (summary) {
      summary.scrollIntoView({ block: "start" });
      summary.focus({ preventScroll: true });
    }
    document.addEventListener("click", function (event) {
      var link = event.target.closest("[data-error-link]");
      if (!link) return;
      var field = document.getElementById(link.getAttribute("data-error-link"));
      if (!field) return;
      event.preventDefault();
      field.scrollIntoView({ block: "center" });
      field.focus();
    });
  }

  /* Field errors from a JSON answer ({field: [{message}]}), replacing every error shown before: the page
     never keeps a stale error, and the first field in error gets the focus. */
  /* Add or remove one id in an element's aria-describedby (dropping the attribute when it empties). */
  function describe(node, id, on) {
    var ids = (node.getAttribute("aria-describedby") || "").split(/\s+/).filter(function (x) { return x && x !== id; });
    if (on) ids.push(id);
    if (ids.length) node.setAttribute("aria-describedby", ids.join(" "));
    else node.removeAttribute("aria-describedby");
  }

  function showFieldErrors(form, errors) {
    $all(".field.has-error", form).forEach(function (f) { f.classList.remove("has-error"); });
    $all(".field .error", form).forEach(function (e) { e.remove(); });
    $all("[aria-invalid]", form).forEach(function (i) { i.removeAttribute("aria-invalid"); });
    // the removed messages are no longer there to describe their inputs
    $all("[aria-describedby]", form).forEach(function (i) { describe(i, i.id + "_error", false); });
    var slot = $("[data-error-summary-slot]", form);
    if (slot) slot.innerHTML = "";
    var keys = Object.keys(errors || {});
    if (!keys.length) return null;
    var items = [], first = null;
    keys.forEach(function (key) {
      var messages = errors[key].map(function (e) { return e.message; });
      var input = key === "__all__" ? null : form.querySelector("#id_" + key);
      if (input) {
        var field = input.closest(".field");
        field.classList.add("has-error");
        input.setAttribute("aria-invalid", "true");
        var p = el("p", { "class": "error", id: input.id + "_error" }, messages.join(" "));
        var help = $(".help", field);
        field.insertBefore(p, help);
        describe(input, p.id, true);
        var label = $("label[for='" + input.id + "']", form);
        var name = label ? label.firstChild.textContent.trim() : key;
        messages.forEach(function (m) { items.push({ id: input.id, text: name + ": " + m }); });
        if (!first) first = input;
      } else {
        messages.forEach(function (m) { items.push({ id: null, text: m }); });
      }
    });
    if (slot) {
      var box = el("div", { "class": "form-error error-summary", role: "alert", tabindex: "-1", id: "error-summary" });
      box.appendChild(el("h3", {}, items.length === 1 ? "There is a problem" : "There are " + items.length + " problems"));
      var ul = el("ul");
      items.forEach(function (item) {
        var li = el("li");
        if (item.id) li.appendChild(el("a", { href: "#" + item.id, "data-error-link": item.id }, item.text));
        else li.textContent = item.text;
        ul.appendChild(li);
      });
      box.appendChild(ul);
      slot.appendChild(box);
    }
    return first;
  }

  /* "Test connection": post the form with fetch and show the answer inline instead of reloading; the
     form's errors are refreshed from the answer, and the focus goes to the field that failed. */
  function initTestConnection() {
    $all("[data-test-form]").forEach(function (form) {
      var button = $("[data-test-button]", form);
      var out = $("[data-test-result]", form);
      if (!button || !out) return;
      button.addEventListener("click", function (event) {
        event.preventDefault();
        var data = new FormData(form);
        data.set("op", "test");
        button.disabled = true;
        out.innerHTML = "";
        out.appendChild(el("p", { "class": "result" }, "Testing…"));
        fetch(form.action || window.location.href, {
          method: "POST", body: data, credentials: "same-origin",
          headers: { "X-Requested-With": "fetch" },
        }).then(function (response) {
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.json();
        }).then(function (result) {
          out.innerHTML = "";
          out.appendChild(el("p", { "class": "result " + (result.ok ? "result-ok" : "result-fail") },
            (result.ok ? "✓ Connected. " : "✗ Failed. ") + result.message));
          var first = showFieldErrors(form, result.errors || {});
          if (first) first.focus();
        }).catch(function () {
          form.requestSubmit ? form.requestSubmit(button) : form.submit();  // fall back to the plain form
        }).finally(function () { button.disabled = false; });
      });
    });
  }

  /* Condition builder: rows of field / operator / value joined by and/or. The builder and the trigger text
     are one value: every builder change rewrites the text at once (so "Save action" saves what the builder
     shows), and text typed by hand is read back into the builder when it is a flat list of conditions.
     Otherwise the builder says it cannot show it, and the text is what is saved. The server renders the
     initial rows (destinations/trigger_outline.py); typed text is read by the small tokenizer below. */
  function quote(value) {
    value = value.trim();
    if (/^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(value) || value === "true" || value === "false" || value === "null") return value;
    if (/^"(?:[^"\\]|\\.)*"$/.test(value)) return value;  // already quoted: text that looks like a number
    return '"' + value.replace(/\\/g, "\\\\").replace(/"/g, '\\"') + '"';
  }
  // The items of an "is one of" row: comma-separated, each as quote() writes a value ("a, b" in quotes
  // keeps its comma).
  function listItems(text) {
    var items = [], re = /\s*("(?:[^"\\]|\\.)*"|[^,]*)\s*(,|$)/g, m;
    while ((m = re.exec(text)) && m[0] !== "") {
      if (m[1].trim()) items.push(quote(m[1]));
      if (!m[2]) break;
    }
    return items;
  }
  function tokenize(text) {
    var tokens = [], i = 0, m;
    var re = /\s+|("(?:[^"\\]|\\.)*")|(!=|<=|>=|==|=|<|>)|([(),\[\].])|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|([A-Za-z_$][A-Za-z0-9_$\-]*)/y;
    while (i < text.length) {
      re.lastIndex = i;
      m = re.exec(text);
      if (!m) return null;
      i = re.lastIndex;
      if (m[1]) tokens.push({ k: "str", t: m[1] });
      else if (m[2]) tokens.push({ k: "op", t: m[2] === "==" ? "=" : m[2] });
      else if (m[3]) tokens.push({ k: m[3], t: m[3] });
      else if (m[4]) tokens.push({ k: "num", t: m[4] });
      else if (m[5]) tokens.push({ k: "name", t: m[5] });
    }
    return tokens;
  }
  // A flat trigger (conditions joined by one kind of and/or) as {join, rows}; null when it is not one.
  function readTrigger(text) {
    var tokens = tokenize(text);
    if (!tokens || !tokens.length) return null;
    var pos = 0, rows = [], join = null;
    var KEYWORDS = ["and", "or", "not", "in", "exists", "contains", "starts_with", "ends_with", "match", "true", "false", "null"];
    var FUNCS = ["contains", "starts_with", "ends_with", "match"];
    function tok() { return tokens[pos] || { k: "end", t: "" }; }
    function path() {
      var t = tok(), text = "";
      if (!(t.k === "name" && KEYWORDS.indexOf(t.t) === -1 || t.k === "str")) return null;
      text += t.t; pos++;
      while (tok().k === "." || tok().k === "[") {
        var sep = tok().k; pos++;
        var seg = tok();
        if (["name", "str", "num"].indexOf(seg.k) === -1) return null;
        pos++;
        text += sep + seg.t;
        if (sep === "[") { if (tok().k !== "]") return null; pos++; text += "]"; }
      }
      return text;
    }
    function value() {
      var t = tok(); pos++;
      if (t.k === "str") {
        var v = JSON.parse(t.t);
        return /^(-?\d+(\.\d+)?([eE][+-]?\d+)?|true|false|null)$/.test(v) || v.charAt(0) === '"' ? t.t : v;
      }
      if (t.k === "num" || t.k === "name" && ["true", "false"].indexOf(t.t) !== -1) return t.t;
      return null;  // null compares as "missing": left to the text
    }
    // [a, b, ...] → the row's text "a, b" (an item holding a comma stays quoted); null (as text) is left out.
    function list() {
      var items = [];
      if (tok().k !== "[") return null;
      pos++;
      while (true) {
        var item = value();
        if (item === null) return null;
        items.push(item.indexOf(",") !== -1 && item.charAt(0) !== '"' ? JSON.stringify(item) : item);
        if (tok().k === ",") { pos++; continue; }
        if (tok().k !== "]") return null;
        pos++;
        return items.join(", ");
      }
    }
    function condition() {
      var t = tok(), field, op, v = "";
      if (t.k === "name" && FUNCS.indexOf(t.t) !== -1 && tokens[pos + 1] && tokens[pos + 1].k === "(") {
        op = t.t; pos += 2;
        field = path();
        if (field === null || tok().k !== ",") return null;
        pos++;
        v = value();
        if (v === null || tok().k !== ")") return null;
        pos++;
        return { field: field, op: op, value: v };
      }
      field = path();
      if (field === null) return null;
      t = tok();
      if (t.k === "op") { pos++; op = t.t; v = value(); if (v === null) return null; }
      else if (t.k === "name" && t.t === "exists") { pos++; op = "exists"; }
      else if (t.k === "name" && t.t === "not" && tokens[pos + 1] && tokens[pos + 1].t === "exists") { pos += 2; op = "not exists"; }
      else if (t.k === "name" && (t.t === "in" || t.t === "not" && tokens[pos + 1] && tokens[pos + 1].t === "in")) {
        op = t.t === "in" ? "in" : "not in"; pos += op === "in" ? 1 : 2;
        v = list(); if (v === null) return null;
      }
      else if (t.k === "name" && FUNCS.indexOf(t.t) !== -1) { pos++; op = t.t; v = value(); if (v === null) return null; }
      else return null;
      return { field: field, op: op, value: v };
    }
    while (true) {
      var row = condition();
      if (!row) return null;
      rows.push(row);
      var t = tok();
      if (t.k === "end") break;
      if (t.k !== "name" || (t.t !== "and" && t.t !== "or") || (join && join !== t.t)) return null;
      join = t.t; pos++;
    }
    return { join: join || "and", rows: rows };
  }
  function initConditionBuilder() {
    var box = $("[data-condition-builder]");
    var trigger = $("#id_trigger");
    if (!box || !trigger) return;
    box.hidden = false;
    var rows = $("[data-builder-rows]", box);
    var template = $("template[data-builder-row]", box);
    var join = $("[data-builder-join]", box);
    var notice = $("[data-builder-notice]", box);
    var controls = $all("[data-builder-controls]", box);

    function renumber() {
      $all(".builder-row", rows).forEach(function (row, i) {
        $all("label", row).forEach(function (label) {
          var input = $("input, select", label);
          input.id = "builder-" + (i + 1) + "-" + input.getAttribute("data-f");
          input.setAttribute("aria-label", label.firstChild.textContent.trim() + " " + (i + 1));
        });
      });
    }
    function addRow(values) {
      var row = template.content.firstElementChild.cloneNode(true);
      var op = $("[data-f=op]", row);
      var value = $("[data-f=value]", row);
      if (values) {
        $("[data-f=field]", row).value = values.field;
        op.value = values.op;
        value.value = values.value;
      }
      var sync = function () { value.disabled = /exists/.test(op.value); };
      op.addEventListener("change", sync);
      sync();
      $("[data-builder-remove]", row).addEventListener("click", function () { row.remove(); renumber(); write(); });
      rows.appendChild(row);
      renumber();
      return row;
    }
    // The builder's rows → the trigger text (rows without a field are left out).
    function write() {
      var conditions = $all(".builder-row", rows).map(function (row) {
        var field = $("[data-f=field]", row).value.trim();
        var op = $("[data-f=op]", row).value;
        var value = $("[data-f=value]", row).value;
        if (!field) return "";
        if (/exists/.test(op)) return field + " " + op;
        if (op === "in" || op === "not in") return field + " " + op + " [" + listItems(value).join(", ") + "]";
        return field + " " + op + " " + quote(value);
      }).filter(Boolean);
      trigger.value = conditions.join(" " + join.value + " ");
    }
    function showRows(outline) {
      rows.innerHTML = "";
      var shown = !!outline;
      notice.hidden = shown;
      rows.hidden = !shown;
      join.disabled = !shown;
      controls.forEach(function (c) { c.hidden = !shown; });
      if (!outline) return;
      join.value = outline.join;
      outline.rows.forEach(addRow);
      if (!outline.rows.length) addRow();
    }
    // The server's reading of the trigger wins (null: it cannot be shown); the tokenizer is the fallback.
    var data = $("#builder-initial");
    var initial = data ? JSON.parse(data.textContent) : readTrigger(trigger.value);
    if (!trigger.value.trim()) initial = { join: "and", rows: [] };
    showRows(initial);
    box.addEventListener("input", function (event) { if (event.target.closest(".builder-row")) write(); });
    box.addEventListener("change", function (event) { if (event.target.closest(".builder-row") || event.target === join) write(); });
    $("[data-builder-add]", box).addEventListener("click", function () { $("[data-f=field]", addRow()).focus(); });
    $("[data-builder-reset]", box).addEventListener("click", function () {
      showRows({ join: "and", rows: [] });
      write();
      $("[data-f=field]", rows).focus();
    });
    trigger.addEventListener("input", function () {
      showRows(trigger.value.trim() ? readTrigger(trigger.value) : { join: "and", rows: [] });
    });
  }

  /* Relative times: "3 min ago" with the exact UTC time in the title, the same words as the server's
     connections_ui.ago (which renders them first); refreshed while a page stays open. */
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  function relativeTime(date, now) {
    var seconds = Math.max(0, Math.floor((now - date) / 1000));
    if (seconds < 45) return "just now";
    var minutes = Math.max(1, Math.round(seconds / 60));
    if (minutes < 60) return minutes + " min ago";
    var hours = Math.floor(minutes / 60);
    if (hours < 24) return hours + " h ago";
    var days = Math.floor(hours / 24);
    if (days <= 30) return days + " d ago";
    return date.getUTCDate() + " " + MONTHS[date.getUTCMonth()] + " " + date.getUTCFullYear();
  }
  function exactTime(date) {
    return date.getUTCFullYear() + "-" + pad(date.getUTCMonth() + 1) + "-" + pad(date.getUTCDate()) + " " +
      pad(date.getUTCHours()) + ":" + pad(date.getUTCMinutes()) + ":" + pad(date.getUTCSeconds()) + " UTC";
  }
  function timeElement(iso) {
    var date = new Date(iso);
    return el("time", { datetime: iso, title: exactTime(date), "data-relative": "" }, relativeTime(date, Date.now()));
  }
  function refreshRelativeTimes() {
    var now = Date.now();
    $all("time[data-relative]").forEach(function (t) {
      t.textContent = relativeTime(new Date(t.getAttribute("datetime")), now);
    });
  }

  /* Live debugger: poll the newest events every 2 s; new ones slide in, open ones keep their state. Each
     row's line mirrors templates/connections/source/_event_summary.html. */
  function renderSummary(event) {
    var summary = el("summary");
    var what = el("span", { "class": "event-what" });
    what.appendChild(el("span", { "class": "badge badge-type" }, event.type));
    if (event.suppressed) {
      what.appendChild(document.createTextNode(" "));
      what.appendChild(el("span", { "class": "badge badge-suppressed" }, "suppressed"));
    }
    what.appendChild(document.createTextNode(" "));
    what.appendChild(el("span", { "class": "event-summary" }, event.summary));
    summary.appendChild(what);
    summary.appendChild(document.createTextNode(" "));
    var meta = el("span", { "class": "event-meta" });
    var user = el("span", { "class": "event-user", "data-event-user": "" });
    if (event.user.title) user.setAttribute("title", event.user.title);
    if (event.user.text) user.textContent = event.user.text;
    else user.appendChild(el("span", { "class": "muted" }, "No user"));
    meta.appendChild(user);
    meta.appendChild(document.createTextNode(" "));
    meta.appendChild(el("span", { "class": "status status-" + event.delivery.status, "data-event-delivery": event.delivery.status },
      event.delivery.label));
    meta.appendChild(document.createTextNode(" "));
    var time = el("span", { "class": "event-time" });
    time.appendChild(timeElement(event.received_at));
    meta.appendChild(time);
    summary.appendChild(meta);
    return summary;
  }
  function renderEvent(event) {
    var li = el("li", { "class": event.suppressed ? "event event-suppressed" : "event", "data-event-id": String(event.id) });
    var details = el("details");
    var summary = renderSummary(event);
    details.appendChild(summary);
    var body = el("div", { "class": "event-body" });
    if (event.suppressed) {  // dropped at ingest: no payload, no deliveries
      body.appendChild(el("p", { "class": "muted" }, "Dropped at ingest: this person's identity is suppressed (see Privacy). " +
        "Nothing of it was stored or sent; message id " + event.message_id + "."));
      details.appendChild(body);
      li.appendChild(details);
      return li;
    }
    body.appendChild(el("h3", {}, "Delivery"));
    body.appendChild(el("div", { "data-deliveries": "" }));
    body.appendChild(el("h3", {}, "JSON"));
    body.appendChild(el("pre", { "class": "code-block" }, JSON.stringify(event.payload, null, 2)));
    details.appendChild(body);
    li.appendChild(details);
    renderDeliveries(li, event.deliveries);
    return li;
  }
  function renderDeliveries(li, deliveries) {
    var holder = $("[data-deliveries]", li);
    if (!holder) {  // an event rendered by the server: replace its delivery list
      holder = el("div", { "data-deliveries": "" });
      var heading = $(".event-body h3", li);
      var old = heading.nextElementSibling;
      heading.parentNode.replaceChild(holder, old);
    }
    holder.innerHTML = "";
    if (!deliveries.length) {
      holder.appendChild(el("p", { "class": "muted" }, "Not delivered to any destination (yet)."));
      return;
    }
    var ul = el("ul", { "class": "plain-list" });
    deliveries.forEach(function (d) {
      var item = el("li");
      item.appendChild(el("strong", {}, d.destination));
      if (d.action) item.appendChild(document.createTextNode(" · " + d.action));
      item.appendChild(document.createTextNode(": "));
      item.appendChild(el("span", { "class": "status status-" + d.status }, d.status));
      var extra = (d.status_code ? " HTTP " + d.status_code : "") + (d.error ? " — " + d.error : "");
      if (extra) item.appendChild(document.createTextNode(extra));
      ul.appendChild(item);
    });
    holder.appendChild(ul);
  }
  /* Data-flow picture: hovering or focusing a node lights up its curves and the nodes they reach. */
  function initFlow() {
    $all("[data-flow]").forEach(function (box) {
      function light(node) {
        var source = node.getAttribute("data-flow-source");
        var destination = node.getAttribute("data-flow-destination");
        var attr = source ? "data-source" : "data-destination";
        var id = source || destination;
        box.classList.add("flow-focusing");
        node.classList.add("is-lit");
        $all("[data-flow-link][" + attr + '="' + id + '"]', box).forEach(function (link) {
          link.classList.add("is-lit");
          var other = source ? '[data-flow-destination="' + link.getAttribute("data-destination") + '"]'
            : '[data-flow-source="' + link.getAttribute("data-source") + '"]';
          $all(other, box).forEach(function (n) { n.classList.add("is-lit"); });
        });
      }
      function clear() {
        box.classList.remove("flow-focusing");
        $all(".is-lit", box).forEach(function (n) { n.classList.remove("is-lit"); });
      }
      $all("[data-flow-source], [data-flow-destination]", box).forEach(function (node) {
        node.addEventListener("mouseenter", function () { clear(); light(node); });
        node.addEventListener("mouseleave", clear);
        node.addEventListener("focus", function () { clear(); light(node); });
        node.addEventListener("blur", clear);
      });
    });
  }

  /* Path picker (the Webhook tab of a source): writes {"@path": "..."} into the mapping field it names. */
  function initPathPickers() {
    $all("[data-path-target]").forEach(function (select) {
      select.addEventListener("change", function () {
        if (!select.value) return;
        var target = document.getElementById(select.getAttribute("data-path-target"));
        target.value = JSON.stringify({ "@path": select.value });
        select.value = "";
        target.focus();
      });
    });
  }

  function initDebugger() {
    var box = $("[data-debugger]");
    if (!box) return;
    var url = box.getAttribute("data-debugger");
    var list = $("[data-debugger-list]", box);
    var empty = $("[data-debugger-empty]", box);
    var state = $("[data-debugger-state]", box);
    var pause = $("[data-debugger-pause]", box);
    var paused = false;
    pause.hidden = false;
    state.textContent = "Live";
    pause.addEventListener("click", function () {
      paused = !paused;
      pause.textContent = paused ? "Resume" : "Pause";
      state.textContent = paused ? "Paused" : "Live";
      state.classList.toggle("paused", paused);
    });
    function poll() {
      if (paused || document.hidden) return;
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) return;
          var known = {};
          $all("[data-event-id]", list).forEach(function (li) { known[li.getAttribute("data-event-id")] = li; });
          var events = data.events.slice().reverse();  // oldest first, so each new one goes on top
          events.forEach(function (event) {
            var li = known[String(event.id)];
            if (li) {
              if (event.suppressed) return;
              renderDeliveries(li, event.deliveries);
              var badge = $("[data-event-delivery]", li);
              badge.className = "status status-" + event.delivery.status;
              badge.setAttribute("data-event-delivery", event.delivery.status);
              badge.textContent = event.delivery.label;
              return;
            }
            li = renderEvent(event);
            li.classList.add("fresh");
            list.insertBefore(li, list.firstChild);
          });
          if (empty) empty.hidden = list.children.length > 0;
          refreshRelativeTimes();
        })
        .catch(function () { /* a missed poll is retried on the next tick */ });
    }
    setInterval(poll, 2000);
    poll();
  }

  document.addEventListener("DOMContentLoaded", function () {
    initSwitcher();
    initMainNav();
    initCatalogFilter();
    initCopy();
    initSecrets();
    initConfirm();
    initErrorSummary();
    initTestConnection();
    initConditionBuilder();
    initDebugger();
    initPathPickers();
    initFlow();
    if ($("time[data-relative]")) setInterval(refreshRelativeTimes, 30000);
  });
})();
