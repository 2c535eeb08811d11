/* Charts (templates/charts/_range_picker.html): the server draws them with times in UTC; this labels the
   time axis, the bar tooltips and the caption in the browser's own time zone, and says which zone that is. */
(function () {
  "use strict";

  function offsetText(date) {
    var minutes = -date.getTimezoneOffset();
    var sign = minutes < 0 ? "-" : "+";
    minutes = Math.abs(minutes);
    function pad(n) { return (n < 10 ? "0" : "") + n; }
    return "UTC" + sign + pad(Math.floor(minutes / 60)) + ":" + pad(minutes % 60);
  }

  function zoneText() {
    var now = new Date();
    var name = "";
    try { name = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { name = ""; }
    var offset = offsetText(now);
    return name && name !== "UTC" ? name + " (" + offset + ")" : offset;
  }

  var formats = {
    time: { hour: "2-digit", minute: "2-digit", hourCycle: "h23" },
    day: { weekday: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23" },
    full: { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }
  };

  function format(iso, kind) {
    var date = new Date(iso);
    if (isNaN(date.getTime())) return null;
    return new Intl.DateTimeFormat(undefined, formats[kind] || formats.time).format(date);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var charts = document.querySelectorAll("svg[data-chart]");
    if (!charts.length) return;
    var zone = zoneText();
    Array.prototype.forEach.call(charts, function (svg) {
      Array.prototype.forEach.call(svg.querySelectorAll("text[data-time]"), function (label) {
        var text = format(label.getAttribute("data-time"), label.getAttribute("data-format"));
        if (text) label.textContent = text;
      });
      Array.prototype.forEach.call(svg.querySelectorAll("title[data-time]"), function (title) {
        var text = format(title.getAttribute("data-time"), "full");
        if (text) title.textContent = text + " " + zone + (title.getAttribute("data-suffix") || "");
      });
    });
    Array.prototype.forEach.call(document.querySelectorAll("[data-chart-zone]"), function (caption) {
      caption.textContent = "Times in your time zone: " + zone;
      caption.setAttribute("data-zone", zone);
    });
  });
})();
