// A placeholder until the page (branch web-page) replaces it: one line per text frame, CHAT/1.1.
"use strict";
(function () {
  const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws";
  let ws = null;
  function show(text) {
    const item = document.createElement("li");
    item.textContent = text;
    document.getElementById("lines").appendChild(item);
  }
  document.getElementById("login").addEventListener("submit", function (event) {
    event.preventDefault();
    const name = document.getElementById("name").value.trim();
    ws = new WebSocket(url);
    ws.onopen = function () { ws.send("REGISTER " + name + " CHAT/1.1"); };
    ws.onmessage = function (message) { show(message.data); };
    ws.onclose = function () { show("(disconnected)"); };
  });
  document.getElementById("say").addEventListener("submit", function (event) {
    event.preventDefault();
    const input = document.getElementById("text");
    if (ws !== null && input.value) { ws.send(input.value); input.value = ""; }
  });
})();
