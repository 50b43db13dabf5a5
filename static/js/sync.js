/*
 * The laptop's sync page (templates/sync/index.html): follows the sync running in the web
 * process by polling its JSON progress, fills the <progress> bar, and reloads the page when
 * the sync ends so that the page shows its result. Without this file the page refreshes
 * itself every 3 s while a sync runs (a <noscript> refresh).
 */
(function () {
  "use strict";

  var root = document.getElementById("sync-run");
  var bar = document.getElementById("sync-progress");
  var text = document.getElementById("sync-text");
  var messages = document.getElementById("sync-messages");
  if (!root || !bar || !text || !messages || !window.fetch) {
    return;
  }
  var url = root.getAttribute("data-status-url");
  var DELAY_MS = 500;

  function show(status) {
    var template = messages.getAttribute("data-" + status.step);
    if (status.total) {
      bar.max = status.total;
      bar.value = Math.min(status.done, status.total);
    } else {
      bar.removeAttribute("value");
    }
    if (template && status.total) {
      text.textContent = template.replace("{done}", String(status.done)).replace("{total}", String(status.total));
    } else {
      text.textContent = messages.getAttribute("data-running");
    }
  }

  function poll() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (status) {
        if (!status) {
          window.setTimeout(poll, DELAY_MS * 4);
          return;
        }
        if (status.state === "running") {
          show(status);
          window.setTimeout(poll, DELAY_MS);
        } else {
          window.location.reload();
        }
      })
      .catch(function () { window.setTimeout(poll, DELAY_MS * 4); });
  }

  if (root.getAttribute("data-state") === "running") {
    poll();
  }
}());
