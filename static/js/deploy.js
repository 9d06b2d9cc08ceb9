// A deployment's page: keep the live build log scrolled to its end while
// htmx swaps in new text (unless the reader scrolled up to read).
(function () {
  "use strict";
  var stick = true;
  function log() { return document.getElementById("build-log"); }
  document.addEventListener("scroll", function (e) {
    var el = log();
    if (el && e.target === el) stick = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
  }, true);
  function toEnd() { var el = log(); if (el && stick) el.scrollTop = el.scrollHeight; }
  document.addEventListener("DOMContentLoaded", toEnd);
  document.addEventListener("htmx:afterSwap", toEnd);
})();
