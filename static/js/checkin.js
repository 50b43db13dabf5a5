/*
 * Check-in screen (templates/attendance/checkin.html): results while typing, check-in and undo
 * without reloading the page, keyboard shortcuts. The page works without this file (a search
 * form and POST buttons); this only makes it faster at the door.
 *
 * - Typing fetches the results list (GET, same origin) after a short pause.
 * - Enter in the search field: with one family found, checks it in; with several, moves to
 *   the first one (Enter again checks it in). Arrow keys move between the results, Escape
 *   goes back to the field.
 * - Forms marked data-checkin-action are sent with fetch (their CSRF token is in the form);
 *   the page the server answers with gives the new counters, status and list.
 */
(function () {
  "use strict";

  var root = document.querySelector("[data-checkin]");
  if (!root || !window.fetch || !window.DOMParser) {
    return;
  }
  var searchForm = document.getElementById("checkin-search");
  var input = searchForm ? searchForm.querySelector("input[type=search]") : null;
  var results = document.getElementById("checkin-results");
  if (!input || !results) {
    return;
  }
  var pagePath = new URL(root.getAttribute("data-page-url"), window.location.href).pathname;
  var resultsUrl = root.getAttribute("data-results-url");
  // Parts of the page replaced after an action; they stay in place (aria-live regions).
  var REGIONS = ["checkin-counters", "checkin-status", "checkin-roster"];
  var DELAY_MS = 200;
  var MIN_LENGTH = 2;

  var timer = null;
  var pending = null;
  var busy = false;
  var shownFor = queryOfResults();

  function queryOfResults() {
    var marked = results.querySelector("[data-query]");
    return marked ? marked.getAttribute("data-query") : "";
  }

  function typed() {
    return input.value.trim();
  }

  function resultButtons() {
    return Array.prototype.slice.call(results.querySelectorAll(".checkin-results button"));
  }

  function loadResults(query) {
    if (pending) {
      pending.abort();
      pending = null;
    }
    if (query.replace(/\s/g, "").length < MIN_LENGTH) {
      results.innerHTML = "";
      shownFor = query;
      return Promise.resolve();
    }
    var controller = new AbortController();
    pending = controller;
    var url = resultsUrl + "?q=" + encodeURIComponent(query);
    return fetch(url, {
      credentials: "same-origin",
      signal: controller.signal,
      headers: { "X-Requested-With": "fetch" }
    }).then(function (response) {
      if (response.redirected || !response.ok) {
        // Logged out meanwhile, or an error: let the browser show the real page.
        window.location.assign(response.redirected ? response.url : url);
        throw new Error("not a results list");
      }
      return response.text();
    }).then(function (html) {
      if (pending === controller) {
        pending = null;
      }
      results.innerHTML = html;
      shownFor = query;
    }).catch(function (error) {
      if (error.name !== "AbortError") {
        throw error;
      }
    });
  }

  function swapRegions(html) {
    var fresh = new DOMParser().parseFromString(html, "text/html");
    REGIONS.forEach(function (id) {
      var now = document.getElementById(id);
      var next = fresh.getElementById(id);
      if (now && next) {
        now.innerHTML = next.innerHTML;
      }
    });
    var main = document.getElementById("main");
    var oldFlashes = main.querySelector(".flashes");
    var newFlashes = fresh.querySelector("#main .flashes");
    if (oldFlashes) {
      oldFlashes.remove();
    }
    if (newFlashes) {
      main.insertBefore(document.importNode(newFlashes, true), main.firstChild);
    }
  }

  function ready() {
    input.value = "";
    results.innerHTML = "";
    shownFor = "";
    input.focus();
  }

  function send(form) {
    if (busy) {
      return;
    }
    busy = true;
    var button = form.querySelector("button");
    if (button) {
      button.setAttribute("aria-disabled", "true");
    }
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: { "X-Requested-With": "fetch" }
    }).then(function (response) {
      if (!response.ok || new URL(response.url).pathname !== pagePath) {
        throw new Error("unexpected answer");
      }
      return response.text();
    }).then(function (html) {
      swapRegions(html);
      ready();
    }).catch(function () {
      // Send it the plain way: the browser then shows whatever the server says.
      form.submit();
    }).then(function () {
      busy = false;
      if (button) {
        button.removeAttribute("aria-disabled");
      }
    });
  }

  input.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(function () {
      loadResults(typed());
    }, DELAY_MS);
  });

  input.addEventListener("keydown", function (event) {
    if (event.key === "ArrowDown") {
      var buttons = resultButtons();
      if (buttons.length) {
        event.preventDefault();
        buttons[0].focus();
      }
    } else if (event.key === "Escape") {
      ready();
    }
  });

  results.addEventListener("keydown", function (event) {
    var buttons = resultButtons();
    var index = buttons.indexOf(document.activeElement);
    if (index < 0) {
      return;
    }
    if (event.key === "ArrowDown" && index + 1 < buttons.length) {
      event.preventDefault();
      buttons[index + 1].focus();
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      (index > 0 ? buttons[index - 1] : input).focus();
    } else if (event.key === "Escape") {
      event.preventDefault();
      input.focus();
    }
  });

  // Enter in the search field.
  searchForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var query = typed();
    window.clearTimeout(timer);
    var shown = query === shownFor ? Promise.resolve() : loadResults(query);
    shown.then(function () {
      var forms = results.querySelectorAll("form[data-checkin-action]");
      if (forms.length === 1) {
        send(forms[0]);
      } else if (forms.length > 1) {
        resultButtons()[0].focus();
      }
    });
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.matches && form.matches("form[data-checkin-action]") && root.contains(form)) {
      event.preventDefault();
      send(form);
    }
  });
})();
