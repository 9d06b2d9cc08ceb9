// The Log stream page: an EventSource on the app's server-sent events.
// EventSource reconnects by itself and sends Last-Event-ID, so the server
// resumes after the last line shown. Pause keeps lines in a buffer and shows
// them on Resume. The page keeps at most MAX_LINES lines.
(function () {
  "use strict";
  var MAX_LINES = 5000;
  var box = document.getElementById("logstream");
  if (!box) return;
  var statusEl = document.getElementById("logstream-status");
  var pauseBtn = document.getElementById("logstream-pause");
  var clearBtn = document.getElementById("logstream-clear");
  var wrapBox = document.getElementById("logstream-wrap");
  var bufferedEl = document.getElementById("logstream-buffered");
  var paused = false, buffer = [], lastId = "", source = null;

  function setStatus(state, text) {
    statusEl.dataset.state = state;
    statusEl.textContent = text;
  }

  function nearBottom() {
    return box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  }

  function render(kind, data) {
    var div = document.createElement("div");
    div.className = "ls-line ls-" + kind;
    if (kind === "stdout" || kind === "stderr") {
      var t = document.createElement("span");
      t.className = "ls-time";
      t.textContent = (data.t || "").replace("T", " ").replace(/\.(\d{3})\d*Z$/, ".$1");
      div.appendChild(t);
      div.appendChild(document.createTextNode(data.text));
    } else {
      div.textContent = data.text;
    }
    return div;
  }

  function show(items) {
    var stick = nearBottom();
    var frag = document.createDocumentFragment();
    items.forEach(function (it) { frag.appendChild(render(it[0], it[1])); });
    box.appendChild(frag);
    while (box.childElementCount > MAX_LINES) box.removeChild(box.firstElementChild);
    if (stick) box.scrollTop = box.scrollHeight;
  }

  function add(kind, data) {
    if (paused) {
      buffer.push([kind, data]);
      if (buffer.length > MAX_LINES) buffer.shift();
      bufferedEl.hidden = false;
      bufferedEl.textContent = buffer.length + " new line(s) held while paused.";
      return;
    }
    show([[kind, data]]);
  }

  function connect() {
    var url = box.dataset.events;
    if (lastId) url += (url.indexOf("?") < 0 ? "?" : "&") + "last_event_id=" + encodeURIComponent(lastId);
    source = new EventSource(url);
    source.onopen = function () { setStatus("live", paused ? "Connected · paused" : "Connected · live"); };
    source.onerror = function () {
      if (source.readyState === EventSource.CLOSED) {
        // The browser gave up (e.g. the portal answered an error): try again ourselves.
        setStatus("reconnecting", "Disconnected: retrying…");
        setTimeout(connect, 3000);
      } else {
        setStatus("reconnecting", "Reconnecting…");
      }
    };
    source.addEventListener("line", function (e) {
      lastId = e.lastEventId || lastId;
      var data = JSON.parse(e.data);
      add(data.s === "stderr" ? "stderr" : "stdout", data);
    });
    source.addEventListener("marker", function (e) { add("marker", JSON.parse(e.data)); });
    source.addEventListener("info", function (e) { add("info", JSON.parse(e.data)); });
  }

  pauseBtn.disabled = false;
  clearBtn.disabled = false;
  pauseBtn.addEventListener("click", function () {
    paused = !paused;
    pauseBtn.textContent = paused ? "▶ Resume" : "❚❚ Pause";
    pauseBtn.setAttribute("aria-pressed", paused ? "true" : "false");
    if (!paused && buffer.length) {
      show(buffer);
      buffer = [];
      bufferedEl.hidden = true;
    }
    if (statusEl.dataset.state === "live") setStatus("live", paused ? "Connected · paused" : "Connected · live");
  });
  clearBtn.addEventListener("click", function () { box.textContent = ""; });
  wrapBox.addEventListener("change", function () { box.classList.toggle("nowrap", !wrapBox.checked); });
  window.addEventListener("beforeunload", function () { if (source) source.close(); });
  connect();
})();
