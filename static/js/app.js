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

  /* "Test connection": post the form with fetch and show the answer inline instead of reloading. */
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
        }).catch(function () {
          form.requestSubmit ? form.requestSubmit(button) : form.submit();  // fall back to the plain form
        }).finally(function () { button.disabled = false; });
      });
    });
  }

  /* Condition builder: rows of field / operator / value joined by and/or, written into the trigger. */
  function quote(value) {
    if (/^-?\d+(\.\d+)?$/.test(value) || value === "true" || value === "false" || value === "null") return value;
    return '"' + value.replace(/\\/g, "\\\\").replace(/"/g, '\\"') + '"';
  }
  function initConditionBuilder() {
    var box = $("[data-condition-builder]");
    var trigger = $("#id_trigger");
    if (!box || !trigger) return;
    box.hidden = false;
    var rows = $("[data-builder-rows]", box);
    var template = $("template[data-builder-row]", box);
    var join = $("[data-builder-join]", box);

    function addRow(values) {
      var row = template.content.firstElementChild.cloneNode(true);
      var n = rows.children.length + 1;
      $all("label", row).forEach(function (label) {
        var input = $("input, select", label);
        input.id = "builder-" + n + "-" + input.getAttribute("data-f");
        input.setAttribute("aria-label", label.firstChild.textContent.trim() + " " + n);
      });
      if (values) {
        $("[data-f=field]", row).value = values.field;
        $("[data-f=op]", row).value = values.op;
        $("[data-f=value]", row).value = values.value;
      }
      var op = $("[data-f=op]", row);
      var value = $("[data-f=value]", row);
      var sync = function () { value.disabled = /exists/.test(op.value); };
      op.addEventListener("change", sync);
      sync();
      $("[data-builder-remove]", row).addEventListener("click", function () { row.remove(); });
      rows.appendChild(row);
    }

    // Read a simple existing trigger (conditions joined by one kind of and/or) into rows.
    function load(text) {
      var parts, joiner = "and";
      if (/\bor\b/.test(text) && !/\band\b/.test(text)) { joiner = "or"; parts = text.split(/\s+or\s+/); }
      else parts = text.split(/\s+and\s+/);
      var parsed = [];
      var pattern = /^\s*([A-Za-z_][\w.]*)\s+(=|!=|>=|<=|>|<|contains|starts_with|ends_with|match|exists|not exists)\s*(?:"((?:[^"\\]|\\.)*)"|(-?\d+(?:\.\d+)?|true|false|null))?\s*$/;
      for (var i = 0; i < parts.length; i++) {
        var m = pattern.exec(parts[i]);
        if (!m) return false;
        parsed.push({ field: m[1], op: m[2], value: m[3] !== undefined ? m[3].replace(/\\(.)/g, "$1") : (m[4] || "") });
      }
      join.value = joiner;
      parsed.forEach(addRow);
      return true;
    }

    if (!trigger.value.trim() || !load(trigger.value)) addRow();
    $("[data-builder-add]", box).addEventListener("click", function () { addRow(); });
    $("[data-builder-write]", box).addEventListener("click", function () {
      var conditions = $all(".builder-row", rows).map(function (row) {
        var field = $("[data-f=field]", row).value.trim();
        var op = $("[data-f=op]", row).value;
        var value = $("[data-f=value]", row).value;
        if (!field) return "";
        if (/exists/.test(op)) return field + " " + op;
        return field + " " + op + " " + quote(value);
      }).filter(Boolean);
      trigger.value = conditions.join(" " + join.value + " ");
      trigger.focus();
    });
  }

  /* Source-path picker: writes {"@path": "..."} into the mapping field next to it. */
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

  /* Live debugger: poll the newest events every 2 s; new ones slide in, open ones keep their state. */
  function renderEvent(event) {
    var li = el("li", { "class": event.suppressed ? "event event-suppressed" : "event", "data-event-id": String(event.id) });
    var details = el("details");
    var summary = el("summary");
    summary.appendChild(el("span", { "class": "badge badge-type" }, event.type));
    if (event.suppressed) summary.appendChild(el("span", { "class": "badge badge-suppressed" }, "suppressed"));
    summary.appendChild(el("span", { "class": "event-summary" }, event.summary));
    summary.appendChild(el("time", { datetime: event.received_at }, new Date(event.received_at).toLocaleString()));
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
            if (li) { if (!event.suppressed) renderDeliveries(li, event.deliveries); return; }
            li = renderEvent(event);
            li.classList.add("fresh");
            list.insertBefore(li, list.firstChild);
          });
          if (empty) empty.hidden = list.children.length > 0;
        })
        .catch(function () { /* a missed poll is retried on the next tick */ });
    }
    setInterval(poll, 2000);
    poll();
  }

  document.addEventListener("DOMContentLoaded", function () {
    initSwitcher();
    initCatalogFilter();
    initCopy();
    initSecrets();
    initConfirm();
    initTestConnection();
    initConditionBuilder();
    initPathPickers();
    initDebugger();
  });
})();
