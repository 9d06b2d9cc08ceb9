// The SSH page: xterm.js on a WebSocket to /apps/<name>/ssh/ws.
// Keystrokes go out as binary frames (UTF-8 bytes, Ctrl-C is just 0x03),
// resizes as JSON text frames; output comes back as text frames.
(function () {
  "use strict";
  const el = document.getElementById("terminal");
  if (!el) return;
  const state = document.getElementById("ssh-state");
  const reconnect = document.getElementById("ssh-reconnect");
  const encoder = new TextEncoder();

  const term = new Terminal({
    cursorBlink: true,
    fontFamily: 'ui-monospace, "DejaVu Sans Mono", Consolas, monospace',
    fontSize: 14,
    scrollback: 5000,
    theme: { background: "#1e1e1e", foreground: "#d4d4d4" },
  });
  const fit = new FitAddon.FitAddon();
  term.loadAddon(fit);
  term.open(el);
  fit.fit();
  // The page's state, for people and for tests: connecting | connected | closed.
  function show(name, text) {
    state.dataset.state = name;
    state.textContent = text;
  }

  let ws = null;
  function send(data) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(data);
  }
  function sendSize() {
    send(JSON.stringify({ type: "resize", rows: term.rows, cols: term.cols }));
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    ws = new WebSocket(scheme + location.host + el.dataset.wsPath);
    ws.binaryType = "arraybuffer";
    show("connecting", "Connecting…");
    reconnect.hidden = true;
    ws.onopen = function () {
      show("connected", "Connected");
      sendSize();
      term.focus();
    };
    ws.onmessage = function (event) {
      term.write(typeof event.data === "string" ? event.data : new Uint8Array(event.data));
    };
    ws.onclose = function (event) {
      const why = event.reason || (event.code === 1006 ? "the connection was lost" : "");
      show("closed", "Connection closed" + (why ? ": " + why : ""));
      term.write("\r\n\x1b[33mConnection closed\x1b[0m\r\n");
      reconnect.hidden = false;
    };
  }

  term.onData(function (data) { send(encoder.encode(data)); });
  // Mouse reports in some modes come as "binary" strings: one byte a char.
  term.onBinary(function (data) {
    send(Uint8Array.from(data, function (c) { return c.charCodeAt(0) & 0xff; }));
  });
  term.onResize(sendSize);
  new ResizeObserver(function () { fit.fit(); }).observe(el);
  reconnect.addEventListener("click", function () {
    term.reset();
    connect();
  });
  connect();
})();
