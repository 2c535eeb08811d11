/* An accessibility sweep of the current page, run by tests/e2e/test_polish_ui.py through Playwright's
   page.evaluate. Returns a list of violations (strings); an empty list passes.
   - every id named by aria-describedby / aria-labelledby / label[for] exists;
   - every visible form control has an accessible name (label, aria-label(ledby), title);
   - nothing that looks clickable (cursor: pointer) is out of the keyboard's reach, and no tabindex > 0;
   - every visible text node (HTML and SVG text) has a contrast of at least 4.5:1 against the background
     behind it (3:1 for large text: 24px, or 18.66px bold), WCAG 2.x AA. The background is found by
     compositing the background colours of the ancestors (semi-transparent ones included) over white;
     text over a background image or gradient is reported, as we have none. Disabled controls (inactive
     components) are exempt, as WCAG says. */
(function () {
  "use strict";
  var problems = [];

  function describe(node) {
    var parts = [];
    for (var n = node; n && n.nodeType === 1 && parts.length < 4; n = n.parentElement) {
      var part = n.tagName.toLowerCase();
      if (n.id) part += "#" + n.id;
      else if (n.classList && n.classList.length) part += "." + Array.prototype.join.call(n.classList, ".");
      parts.unshift(part);
    }
    return parts.join(" > ");
  }

  function visible(node) {
    if (!node.getClientRects().length) return false;
    if (node.checkVisibility && !node.checkVisibility({ visibilityProperty: true })) return false;  // closed <details>
    var style = getComputedStyle(node);
    if (style.visibility === "hidden" || style.display === "none") return false;
    var rect = node.getBoundingClientRect();
    return rect.width > 1 && rect.height > 1;  // .visually-hidden text is 1px: for screen readers only
  }

  // --- references by id ---------------------------------------------------------------------------
  ["aria-describedby", "aria-labelledby", "aria-controls"].forEach(function (attr) {
    document.querySelectorAll("[" + attr + "]").forEach(function (node) {
      node.getAttribute(attr).split(/\s+/).filter(Boolean).forEach(function (id) {
        if (!document.getElementById(id)) problems.push(attr + " points at missing #" + id + " on " + describe(node));
      });
    });
  });
  document.querySelectorAll("label[for]").forEach(function (label) {
    if (!document.getElementById(label.htmlFor)) problems.push("label for missing #" + label.htmlFor + ": " + label.textContent.trim());
  });

  // --- labels -------------------------------------------------------------------------------------
  document.querySelectorAll("input, select, textarea").forEach(function (control) {
    var type = (control.getAttribute("type") || "").toLowerCase();
    if (["hidden", "submit", "button", "reset", "image"].indexOf(type) !== -1) return;
    if (!visible(control)) return;
    var named = (control.labels && control.labels.length && Array.prototype.some.call(control.labels, function (l) { return l.textContent.trim(); }))
      || (control.getAttribute("aria-label") || "").trim()
      || (control.getAttribute("aria-labelledby") || "").trim()
      || (control.getAttribute("title") || "").trim();
    if (!named) problems.push("control without a label: " + describe(control) + " name=" + control.name);
  });

  // --- keyboard: what looks clickable takes the focus; no tab order of our own ------------------------
  var focusable = "a[href], button, input, select, textarea, summary, label, [tabindex], [contenteditable]";
  document.querySelectorAll("body *").forEach(function (node) {
    if (node.tabIndex > 0) problems.push("positive tabindex on " + describe(node));
    if (getComputedStyle(node).cursor !== "pointer" || !visible(node)) return;
    if (node.closest(focusable) || node.querySelector(focusable)) return;
    problems.push("clickable but not reachable by keyboard: " + describe(node));
  });

  // --- contrast -----------------------------------------------------------------------------------
  function parse(color) {
    var m = color.match(/rgba?\(([^)]+)\)/);
    if (!m) return null;
    var p = m[1].split(/[ ,/]+/).filter(Boolean).map(parseFloat);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  }
  function over(top, bottom) {  // top composited over an opaque bottom
    return { r: top.r * top.a + bottom.r * (1 - top.a), g: top.g * top.a + bottom.g * (1 - top.a),
             b: top.b * top.a + bottom.b * (1 - top.a), a: 1 };
  }
  function luminance(c) {
    function ch(v) { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }
    return 0.2126 * ch(c.r) + 0.7152 * ch(c.g) + 0.0722 * ch(c.b);
  }
  function ratio(a, b) {
    var la = luminance(a), lb = luminance(b);
    return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
  }
  function background(node) {
    var layers = [];
    for (var n = node; n && n.nodeType === 1; n = n.parentElement) {
      var style = getComputedStyle(n);
      if (style.backgroundImage && style.backgroundImage !== "none") return { image: describe(n) };
      var c = parse(style.backgroundColor);
      if (c && c.a > 0) { layers.push(c); if (c.a >= 1) break; }
    }
    var result = { r: 255, g: 255, b: 255, a: 1 };
    for (var i = layers.length - 1; i >= 0; i--) result = over(layers[i], result);
    return result;
  }
  function opacity(node) {
    var o = 1;
    for (var n = node; n && n.nodeType === 1; n = n.parentElement) o *= parseFloat(getComputedStyle(n).opacity);
    return o;
  }

  var walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  var seen = new Set();
  for (var text = walker.nextNode(); text; text = walker.nextNode()) {
    if (!text.textContent.trim()) continue;
    var node = text.parentElement;
    if (!node || seen.has(node)) continue;
    seen.add(node);
    if (node.closest("script, style, noscript, title, option, [aria-hidden='true']")) continue;
    if (node.closest(":disabled, .read-only:disabled")) continue;
    if (!visible(node)) continue;
    var style = getComputedStyle(node);
    var svg = node instanceof SVGElement;
    var fg = parse(svg ? style.fill : style.color);
    if (!fg) continue;
    var bg = background(svg ? node.ownerSVGElement.parentElement : node);
    var sample = text.textContent.trim().slice(0, 40);
    if (bg.image) { problems.push("text over a background image (" + bg.image + "): " + sample); continue; }
    fg.a *= opacity(node);
    var shown = over(fg, bg);
    var size = parseFloat(style.fontSize), bold = parseInt(style.fontWeight, 10) >= 700;
    var needed = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    var got = ratio(shown, bg);
    if (got < needed) {
      problems.push("contrast " + got.toFixed(2) + " < " + needed + " for \"" + sample + "\" (" + describe(node) + ")");
    }
  }
  return problems;
})()
