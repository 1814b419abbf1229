// Flint's console works without JavaScript; this only spares a click.
// A page that says data-refresh="N" (a poll running) reloads itself every
// N seconds until the poll ends.
(function () {
  "use strict";
  var el = document.querySelector("[data-refresh]");
  if (!el) return;
  var seconds = parseInt(el.getAttribute("data-refresh"), 10);
  if (seconds > 0 && seconds < 600) {
    setTimeout(function () { window.location.reload(); }, seconds * 1000);
  }
})();
