// cellbatch: the little JavaScript the floor needs. Pages work without it.
(function () {
  "use strict";
  // Barcode scanners type the code and press Enter: move to the next field instead of submitting.
  document.addEventListener("keydown", function (event) {
    var el = event.target;
    if (event.key !== "Enter" || !el.matches || !el.matches("input[data-scan], input[inputmode]")) return;
    event.preventDefault();
    var fields = Array.prototype.slice.call(el.form.querySelectorAll("input:not([type=hidden]), select, textarea, button"));
    var next = fields[fields.indexOf(el) + 1];
    if (next) next.focus();
  });
  // Hold-time countdowns: <span data-deadline="ISO">: minutes left, red when passed.
  function tick() {
    document.querySelectorAll("[data-deadline]").forEach(function (el) {
      var left = Math.round((Date.parse(el.getAttribute("data-deadline")) - Date.now()) / 60000);
      el.textContent = left >= 0 ? left + " min left" : "overdue by " + (-left) + " min";
      el.classList.toggle("badge-bad", left < 0);
      el.classList.toggle("badge-warn", left >= 0 && left <= 10);
    });
  }
  tick();
  setInterval(tick, 15000);
})();
