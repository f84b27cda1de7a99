// Live updates of a running deliberation. The server renders the page's body again on
// every event of the task and sends it as a server-sent event named "body"; this swaps it
// in, keeping open whatever <details> the reader had opened. "end" follows the result.
(function () {
  "use strict";
  var main = document.getElementById("deliberation");
  if (!main || !main.dataset.events || !window.EventSource) {
    return;
  }
  var source = new EventSource(main.dataset.events);
  source.addEventListener("body", function (event) {
    var open = [];
    main.querySelectorAll("details[open]").forEach(function (d) {
      if (d.id) {
        open.push(d.id);
      }
    });
    main.innerHTML = event.data;
    open.forEach(function (id) {
      var d = document.getElementById(id);
      if (d) {
        d.open = true;
      }
    });
  });
  source.addEventListener("end", function () {
    source.close();
    main.removeAttribute("data-events");
    main.dataset.ended = "true";
  });
})();
