// msinfuse web UI: the only script besides htmx. No inline script anywhere (CSP).
// Observation countdowns tick every second between the server's 30-second refreshes.
(function () {
  "use strict";
  function tick() {
    document.querySelectorAll(".countdown[data-remaining]").forEach(function (el) {
      var left = parseInt(el.getAttribute("data-remaining"), 10);
      if (isNaN(left)) { return; }
      left = Math.max(left - 1, 0);
      el.setAttribute("data-remaining", String(left));
      el.textContent = Math.floor(left / 60) + " min " + (left % 60) + " s";
      if (left === 0) { el.classList.add("expired"); }
    });
  }
  setInterval(tick, 1000);
})();
