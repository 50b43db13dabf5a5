/*
 * "Print everything for this atelier" (templates/printing/batch.html): follows the batch that
 * a child process renders, by polling its JSON progress, and shows the PDF's link when ready.
 * Without this file the page refreshes itself every 3 s (a <noscript> refresh).
 */
(function () {
  "use strict";

  var root = document.getElementById("print-batch");
  var bar = document.getElementById("print-batch-progress");
  var text = document.getElementById("print-batch-text");
  var download = document.getElementById("print-batch-download");
  var messages = document.getElementById("print-batch-messages");
  if (!root || !bar || !text || !download || !messages || !window.fetch) {
    return;
  }
  var url = root.getAttribute("data-status-url");
  var DELAY_MS = 700;

  function show(status) {
    if (status.total) {
      bar.max = status.total;
      bar.value = status.state === "done" ? status.total : status.done;
    }
    if (status.state === "done") {
      text.textContent = messages.getAttribute("data-done");
      download.hidden = false;
    } else if (status.state === "failed") {
      text.textContent = messages.getAttribute("data-failed");
    } else if (status.total) {
      text.textContent = messages.getAttribute("data-running")
        .replace("{done}", String(status.done)).replace("{total}", String(status.total));
    }
  }

  function poll() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (status) {
        if (!status) {
          return;
        }
        show(status);
        if (status.state === "running") {
          window.setTimeout(poll, DELAY_MS);
        }
      })
      .catch(function () { window.setTimeout(poll, DELAY_MS * 3); });
  }

  if (root.getAttribute("data-state") === "running") {
    poll();
  }
}());
