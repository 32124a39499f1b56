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

// Copy-friendly calendar link: a Copy button copies the read-only field; focusing selects it.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button[data-copy]") : null;
    if (!button) { return; }
    var field = document.getElementById(button.getAttribute("data-copy"));
    if (!field) { return; }
    field.select();
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(field.value).then(function () { button.textContent = "Copied"; },
        function () { button.textContent = "Selected: press Ctrl+C"; });
    } else {
      button.textContent = "Selected: press Ctrl+C";
    }
  });
  document.addEventListener("focusin", function (event) {
    if (event.target.hasAttribute && event.target.hasAttribute("data-select-on-focus")) {
      event.target.select();
    }
  });
})();
