/* Text that overlaps other text on the current page (run by tests/e2e/test_polish_ui.py). Each visible
   text node is measured by the boxes of its glyph lines (Range.getClientRects), cut to what its scrolling
   or clipping ancestors let through; two boxes of different text nodes sharing more than 3 px each way
   are reported. Returns a list of strings (at most 20). */
(function () {
  "use strict";
  function clipOf(node) {
    var clip = { left: -Infinity, top: -Infinity, right: Infinity, bottom: Infinity };
    for (var n = node.parentElement; n && n !== document.documentElement; n = n.parentElement) {
      var s = getComputedStyle(n);
      if (s.overflowX !== "visible" || s.overflowY !== "visible" || s.clip !== "auto" || s.clipPath !== "none") {
        var r = n.getBoundingClientRect();
        clip = { left: Math.max(clip.left, r.left), top: Math.max(clip.top, r.top),
                 right: Math.min(clip.right, r.right), bottom: Math.min(clip.bottom, r.bottom) };
      }
    }
    return clip;
  }
  var boxes = [];
  var walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (var text = walker.nextNode(); text; text = walker.nextNode()) {
    if (!text.textContent.trim()) continue;
    var owner = text.parentElement;
    if (!owner || owner.closest("script, style, noscript, option, select, textarea, title")) continue;
    // closed <details> keep a layout box for their content: checkVisibility knows it is not shown
    if (owner.checkVisibility && !owner.checkVisibility({ visibilityProperty: true, opacityProperty: true })) continue;
    var clip = clipOf(text);
    var range = document.createRange();
    range.selectNodeContents(text);
    Array.prototype.forEach.call(range.getClientRects(), function (r) {
      var box = { left: Math.max(r.left, clip.left), top: Math.max(r.top, clip.top),
                  right: Math.min(r.right, clip.right), bottom: Math.min(r.bottom, clip.bottom), text: text };
      if (box.right - box.left > 1 && box.bottom - box.top > 1) boxes.push(box);
    });
  }
  boxes.sort(function (a, b) { return a.top - b.top; });
  var problems = [];
  for (var i = 0; i < boxes.length && problems.length < 20; i++) {
    for (var j = i + 1; j < boxes.length && boxes[j].top < boxes[i].bottom - 3; j++) {
      var a = boxes[i], b = boxes[j];
      if (a.text === b.text) continue;
      var w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
      var h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
      if (w > 3 && h > 3) {
        problems.push("text overlaps: \"" + a.text.textContent.trim().slice(0, 30) + "\" and \"" + b.text.textContent.trim().slice(0, 30) + "\"");
      }
    }
  }
  return problems;
})()
