// sledger explorer: live updates only. Pages work without this file.
// On a page marked data-live, each tip, block or entry event from the
// node refreshes the page's <main> in place (no reload, no remote origin).
(function () {
  "use strict";
  var main = document.querySelector("main[data-live]");
  var status = document.getElementById("live");
  if (!main || !window.EventSource) { return; }
  var pending = false;
  // Someone typing in a form of the page: leave the page as it is.
  function typing() {
    var fields = main.querySelectorAll("input[type=text], textarea");
    for (var i = 0; i < fields.length; i++) {
      if (fields[i].value || fields[i] === document.activeElement) { return true; }
    }
    return false;
  }
  function refresh() {
    if (pending || typing()) { return; }
    pending = true;
    setTimeout(function () {
      fetch(window.location.href, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          pending = false;
          if (!html) { return; }
          var doc = new DOMParser().parseFromString(html, "text/html");
          var fresh = doc.querySelector("main[data-live]");
          if (fresh) { main.replaceWith(fresh); main = fresh; }
        })
        .catch(function () { pending = false; });
    }, 150);
  }
  var source = new EventSource("/events");
  source.onopen = function () { if (status) { status.textContent = "live"; } };
  source.onerror = function () { if (status) { status.textContent = "reconnecting…"; } };
  ["tip", "block", "entry", "mining"].forEach(function (name) {
    source.addEventListener(name, refresh);
  });
})();
