// Live tally: polls the cached counts endpoint (data-counts-url) every ~2 s and updates the
// numbers marked data-count / data-employer and the goal's <progress>. The page is complete
// without this script; it only saves a reload. No dependencies.
(function () {
  "use strict";
  var root = document.querySelector("[data-counts-url]");
  if (!root || !window.fetch) return;
  var url = root.getAttribute("data-counts-url");
  var BASE = 2000, MAX = 60000;
  var delay = BASE, timer = null;
  // Grouped as the page's language groups them (the server's intcomma does the same).
  var locale = (document.documentElement.lang || "en-GB") + "-u-nu-latn";
  var format = function (n) { return Number(n).toLocaleString(locale); };

  function set(el, text) {
    if (el.textContent !== text) el.textContent = text;
  }

  function apply(data) {
    var counts = data.counts || {};
    root.querySelectorAll("[data-count]").forEach(function (el) {
      var key = el.getAttribute("data-count");
      if (key in counts) set(el, format(counts[key]));
    });
    (data.employers || []).forEach(function (employer) {
      root.querySelectorAll("[data-employer]").forEach(function (el) {
        if (el.getAttribute("data-employer") === employer.domain) set(el, format(employer.count));
      });
    });
    var progress = root.querySelector("progress[data-goal]");
    if (progress && data.goal) {
      progress.max = data.goal;
      progress.value = counts.verified;
      var percent = Math.floor((counts.verified * 100) / data.goal);
      progress.textContent = percent + "%";
      root.querySelectorAll("[data-count=percent]").forEach(function (el) {
        set(el, String(percent));
      });
    }
  }

  function schedule() {
    clearTimeout(timer);
    if (!document.hidden) timer = setTimeout(poll, delay);
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "omit" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) {
        apply(data);
        delay = BASE;
      })
      .catch(function () {
        delay = Math.min(delay * 2, MAX); // back off while the server is unwell
      })
      .then(schedule);
  }

  // No polling from a background tab; catch up at once when it comes back.
  document.addEventListener("visibilitychange", function () {
    if (document.hidden) clearTimeout(timer);
    else { clearTimeout(timer); poll(); }
  });
  schedule();
})();
