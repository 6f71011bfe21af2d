// The chatroom page: a CHAT/1.1 client over WebSocket (docs/PROTOCOL.md section 7).
// One protocol line per text frame, both ways. Everything a peer sends is inserted
// with textContent, never as HTML. No build step, no libraries, no inline code (CSP).
"use strict";

(function () {
  const LOBBY = "#lobby";
  const BACKOFF_FIRST_MS = 500; // reconnect: 0.5 s, doubling ...
  const BACKOFF_MAX_MS = 10000; // ... up to 10 s, each with jitter
  const INPUT_HISTORY_MAX = 100; // lines Up/Down remember
  const LOG_MAX_LINES = 2000; // per room, oldest dropped: a long-open tab stays light
  const RETRY_REFUSALS = new Set(["401", "408", "429", "503"]);
  // A refusal on reconnecting that may pass: our old connection not yet timed out
  // (401), the server busy or starting (408, 429, 503). Others stop the retries.

  // Sender colours as chatroom/client/render.py picks them: PALETTE_256 indexed by
  // crc32(username_key(name)); app.css has a class per colour (.c31 ...).
  const PALETTE_256 = [
    31, 32, 33, 35, 36, 37, 38, 39, 64, 67, 68, 70, 71, 72, 73, 74,
    97, 98, 99, 104, 128, 129, 130, 133, 134, 135, 136, 166, 169, 170, 172, 178,
  ];
  // chatroom/protocol/names.py CONFUSABLES: Cyrillic and Greek look-alikes fold to Latin.
  const CONFUSABLES = {
    "а": "a", "в": "b", "с": "c", "ԁ": "d", "е": "e", "һ": "h", "і": "i", "ј": "j",
    "к": "k", "ӏ": "l", "м": "m", "н": "h", "о": "o", "р": "p", "ԛ": "q", "ѕ": "s",
    "т": "t", "у": "y", "ԝ": "w", "х": "x", "ѵ": "v", "ё": "e", "ї": "i",
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o",
    "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w", "ζ": "z",
  };

  const CRC_TABLE = (function () {
    const table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
    return table;
  })();

  function crc32(bytes) {
    let crc = 0xffffffff;
    for (let i = 0; i < bytes.length; i++) crc = CRC_TABLE[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
    return (crc ^ 0xffffffff) >>> 0;
  }

  function usernameKey(name) {
    // NFKC(casefold(NFKC(name))); toLowerCase stands in for casefold, with the two
    // differences that matter for names patched (final sigma, sharp s).
    if (/^[\x00-\x7f]*$/.test(name)) return name.toLowerCase();
    let key = name.normalize("NFKC").toLowerCase().replace(/ς/g, "σ").replace(/ß/g, "ss").normalize("NFKC");
    return Array.from(key, (ch) => CONFUSABLES[ch] || ch).join("");
  }

  const encoder = new TextEncoder();
  function colourClass(name) {
    return "c" + PALETTE_256[crc32(encoder.encode(usernameKey(name))) % PALETTE_256.length];
  }

  // -- the page's state ---------------------------------------------------------------

  const $ = (id) => document.getElementById(id);
  const els = {
    login: $("login"), name: $("name"), password: $("password"), loginError: $("login-error"), chat: $("chat"),
    rooms: $("rooms"), join: $("join"), members: $("members"), memberCount: $("member-count"),
    topic: $("topic"), log: $("log"), input: $("input"), status: $("status"), conn: $("conn"),
  };

  const state = {
    name: "", // the name typed; kept for every reconnect
    password: "", // for a protected name; in memory only, never stored
    name_confirmed: false, // the server accepted it once: from now on, drops are retried
    ws: null,
    registered: false, // this connection got its 200
    wanted: false, // keep reconnecting (false after !exit or a final refusal)
    attempt: 0, // reconnects since the last 200
    timer: 0,
    reconnecting: false,
    serverRoom: LOBBY, // the server's current room (plain chat lines go there)
    current: LOBBY, // the room shown, where typed lines go
    rooms: new Map(), // key -> {name, pane, members:Set, pending:Set|null, count, presence, topic, dedupe:Map|null, unread}
    rejoin: null, // rooms to enter again after a reconnect
    sent: [], // Up/Down history
    sentIndex: 0,
    draft: "",
  };

  const roomKey = (room) => room.normalize("NFKC").toLowerCase();

  // -- drawing ------------------------------------------------------------------------

  function span(cls, text) {
    const el = document.createElement("span");
    el.className = cls;
    el.textContent = text;
    return el;
  }

  function nameSpan(name, prefix) {
    const el = span("name " + colourClass(name), (prefix || "") + name);
    el.dataset.name = name;
    return el;
  }

  function addLine(room, cls, parts) {
    const info = room ? ensureRoom(room) : currentRoom();
    const li = document.createElement("li");
    li.className = "line " + cls;
    for (const part of parts) li.append(typeof part === "string" ? document.createTextNode(part) : part);
    const pane = info.pane;
    const stick = els.log.scrollTop + els.log.clientHeight >= els.log.scrollHeight - 8;
    pane.append(li);
    while (pane.childElementCount > LOG_MAX_LINES) pane.firstElementChild.remove();
    if (info.name === state.current) {
      if (stick || cls.includes("own")) els.log.scrollTop = els.log.scrollHeight;
    } else if (/\b(msg|private)\b/.test(cls)) {
      info.unread += 1;
      drawRooms();
    }
    return li;
  }

  function notice(text, cls) {
    addLine(null, "notice " + (cls || ""), [text]);
  }

  function setStatus(text, kind) {
    els.status.textContent = text;
    els.status.dataset.kind = kind || "info";
  }

  function setConn(stateName, text) {
    els.conn.dataset.state = stateName;
    els.conn.textContent = text;
  }

  function ensureRoom(room) {
    const key = roomKey(room);
    let info = state.rooms.get(key);
    if (!info) {
      const pane = document.createElement("ol");
      pane.className = "pane";
      pane.dataset.room = room;
      pane.hidden = room !== state.current;
      els.log.append(pane);
      info = { name: room, pane, members: new Set(), pending: null, count: 0, presence: "on",
               topic: "", dedupe: null, unread: 0, joined: false };
      state.rooms.set(key, info);
    }
    return info;
  }

  function currentRoom() {
    return ensureRoom(state.current);
  }

  function showRoom(room) {
    const info = ensureRoom(room);
    state.current = info.name;
    info.unread = 0;
    for (const other of state.rooms.values()) other.pane.hidden = other !== info;
    els.log.scrollTop = els.log.scrollHeight;
    drawRooms();
    drawMembers();
    els.topic.textContent = info.topic;
    els.topic.hidden = !info.topic;
  }

  function drawRooms() {
    const items = [];
    for (const info of state.rooms.values()) {
      if (!info.joined) continue;
      const li = document.createElement("li");
      li.dataset.room = info.name;
      li.tabIndex = 0;
      li.textContent = info.name;
      if (info.name === state.current) li.className = "current";
      if (info.unread) li.append(span("unread", String(info.unread)));
      items.push(li);
    }
    els.rooms.replaceChildren(...items);
  }

  function drawMembers() {
    const info = currentRoom();
    const names = [...info.members].sort((a, b) => usernameKey(a).localeCompare(usernameKey(b)));
    els.members.replaceChildren(
      ...names.map((name) => {
        const li = document.createElement("li");
        li.append(nameSpan(name));
        li.title = "Click to write to " + name + " alone";
        if (name === state.name) li.className = "me";
        return li;
      })
    );
    const count = info.presence === "off" || info.count > names.length ? info.count : names.length;
    els.memberCount.textContent = info.joined ? "(" + count + ")" : "";
  }

  function timeOf(stamp) {
    // "2026-11-30T08:05:09Z" -> local "08:05" (with the date when not today).
    const when = new Date(stamp);
    if (isNaN(when)) return stamp;
    const hhmm = when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false });
    return when.toDateString() === new Date().toDateString() ? hhmm : when.toLocaleDateString() + " " + hhmm;
  }

  function nowStamp() {
    return new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false });
  }

  // Lines already on screen, so that the replay after a reconnect adds only what is new.
  function remember(info, name, text) {
    const key = name + "\u0000" + text;
    if (!info.seen || info.seen.size > LOG_MAX_LINES) info.seen = new Map();
    info.seen.set(key, (info.seen.get(key) || 0) + 1);
  }

  function seenBefore(info, name, text) {
    const key = name + "\u0000" + text;
    const n = (info.seen && info.seen.get(key)) || 0;
    if (!n) return false;
    info.seen.set(key, n - 1);
    return true;
  }

  // -- the connection -----------------------------------------------------------------

  function socketUrl() {
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws";
  }

  function connect() {
    clearTimeout(state.timer);
    state.registered = false;
    setConn("connecting", state.reconnecting ? "reconnecting…" : "connecting…");
    let ws;
    try {
      ws = new WebSocket(socketUrl());
    } catch (error) {
      scheduleReconnect("cannot open a WebSocket: " + error.message);
      return;
    }
    state.ws = ws;
    ws.onopen = () => ws.send("REGISTER " + state.name + " CHAT/1.1" + passwordOption());
    ws.onmessage = (event) => {
      if (ws === state.ws && typeof event.data === "string") onLine(event.data);
    };
    ws.onclose = (event) => {
      if (ws !== state.ws) return;
      state.ws = null;
      const was = state.registered;
      state.registered = false;
      for (const info of state.rooms.values()) info.members.clear();
      drawMembers();
      if (!state.wanted) {
        setConn("closed", "disconnected");
        return;
      }
      if (!state.name_confirmed) {
        // Never got in: the name form again, with whatever the server said.
        state.wanted = false;
        setConn("closed", "not connected");
        showLogin(els.loginError.textContent || "Could not connect (" + (event.code || "no answer") + "). Try again.");
        return;
      }
      if (was) notice("Connection lost; reconnecting…", "warn");
      scheduleReconnect("connection lost");
    };
  }

  function passwordOption() {
    // docs/PROTOCOL.md 9.1: the password's UTF-8 bytes in base64, kept in memory for reconnects only.
    if (!state.password) return "";
    const bytes = encoder.encode(state.password);
    let binary = "";
    for (const byte of bytes) binary += String.fromCharCode(byte);
    return " password=" + btoa(binary);
  }

  function scheduleReconnect(why) {
    if (!state.wanted) return;
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** state.attempt);
    const delay = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
    state.attempt += 1;
    state.reconnecting = true;
    setConn("waiting", "reconnecting in " + (delay / 1000).toFixed(1) + " s");
    setStatus("Disconnected (" + why + "); trying again in " + (delay / 1000).toFixed(1) + " s.", "warn");
    state.timer = setTimeout(connect, delay);
  }

  function send(line) {
    if (!state.ws || state.ws.readyState !== WebSocket.OPEN || !state.registered) {
      setStatus("Not sent: not connected (reconnecting).", "error");
      return false;
    }
    state.ws.send(line);
    return true;
  }

  function sendChat(text, room) {
    // A plain chat line goes to the server's current room; another room is named.
    const target = room && roomKey(room) !== roomKey(state.serverRoom) ? " " + room : "";
    return send("@" + state.name + target + ": " + text);
  }

  // -- lines from the server ----------------------------------------------------------

  function rest(line, fields) {
    // The first `fields` space-separated words, then the rest of the line as is.
    const out = [];
    let at = 0;
    for (let i = 0; i < fields; i++) {
      const sp = line.indexOf(" ", at);
      if (sp < 0) return null;
      out.push(line.slice(at, sp));
      at = sp + 1;
    }
    out.push(line.slice(at));
    return out;
  }

  function onLine(line) {
    const reply = /^(\d{3})([ -])(.*)$/.exec(line);
    if (reply) return onReply(reply[1], reply[2] === "-", reply[3], line);
    if (!state.registered) return;
    const verb = line.split(" ", 1)[0];
    const handler = EVENTS[verb];
    if (handler) handler(line.slice(verb.length + 1));
    else if (line.startsWith("DISCONNECT")) notice("The server is shutting down.", "warn");
    // Any other verb: a later protocol version; ignored as section 7.3 says.
  }

  const EVENTS = {
    MSG(args) {
      const f = rest(args, 2);
      if (!f) return;
      const [room, name, text] = f;
      const info = ensureRoom(room);
      remember(info, name, text);
      addLine(room, "msg", [span("time", nowStamp()), nameSpan(name, "@"), ": ", span("text", text)]);
    },
    FOLLOWED(args) {
      const f = rest(args, 2);
      if (!f) return;
      const [room, name, text] = f;
      addLine(null, "msg followed", [span("time", nowStamp()), span("room", room + " "), nameSpan(name, "@"), ": ", span("text", text)]);
    },
    PRIVATE(args) {
      const f = rest(args, 1);
      if (!f) return;
      const [name, text] = f;
      addLine(null, "private", [span("time", nowStamp()), span("mark", "[private] "), nameSpan(name, "@"), ": ", span("text", text)]);
    },
    JOINED(args) {
      const [room, ...names] = args.split(" ");
      const info = ensureRoom(room);
      for (const name of names) {
        if (name === state.name) {
          info.joined = true;
          info.pending = null;
          info.members.add(name);
          drawRooms();
        } else {
          info.members.add(name);
          addLine(room, "presence", [nameSpan(name), " joined " + room]);
        }
      }
      if (info.name === state.current) drawMembers();
    },
    LEFT(args) {
      const [room, ...names] = args.split(" ");
      const info = ensureRoom(room);
      for (const name of names) {
        info.members.delete(name);
        if (name === state.name) {
          info.joined = false;
          info.members.clear();
          if (info.name === state.current) showRoom(state.serverRoom);
          drawRooms();
        } else {
          addLine(room, "presence", [nameSpan(name), " left " + room]);
        }
      }
      if (info.name === state.current) drawMembers();
    },
    MEMBERS(args) {
      const [room, ...names] = args.split(" ");
      const info = ensureRoom(room);
      if (!info.pending) info.pending = new Set();
      for (const name of names) info.pending.add(name);
    },
    "MEMBERS-END"(args) {
      const [room, count, presence] = args.split(" ");
      const info = ensureRoom(room);
      info.members = info.pending || new Set();
      info.pending = null;
      info.count = parseInt(count, 10) || info.members.size;
      info.presence = presence === "off" ? "off" : "on";
      if (info.name === state.current) drawMembers();
    },
    TOPIC(args) {
      const f = rest(args, 1);
      if (!f) return;
      const [room, text] = f;
      const info = ensureRoom(room);
      const changed = info.topic !== text;
      info.topic = text;
      if (changed) addLine(room, "topic", ["Topic: ", span("text", text)]);
      if (info.name === state.current) showRoom(info.name);
    },
    HISTORY(args) {
      const f = rest(args, 3);
      if (!f) return;
      const [room, stamp, name, text] = f;
      const info = ensureRoom(room);
      if (info.dedupe && seenBefore(info, name, text)) return;
      remember(info, name, text);
      const li = addLine(room, "history", [span("time", timeOf(stamp)), nameSpan(name, "@"), ": ", span("text", text)]);
      li.dataset.time = stamp;
    },
    "HISTORY-END"(args) {
      const [room, count] = args.split(" ");
      const info = ensureRoom(room);
      info.dedupe = null;
      const n = parseInt(count, 10) || 0;
      if (n) addLine(room, "history-end", [n === 1 ? "— 1 earlier line —" : "— " + n + " earlier lines —"]);
    },
  };

  function onReply(code, more, text, line) {
    if (!state.registered) {
      if (code === "200") return onRegistered();
      // Refused: the server closes; onclose decides between the form and retrying.
      setStatus(line, "error");
      if (!state.name_confirmed) {
        els.loginError.textContent = text;
      } else if (!RETRY_REFUSALS.has(code)) {
        state.wanted = false;
        notice("The server refused " + state.name + ": " + text, "error");
        setConn("closed", "refused");
      }
      return;
    }
    const kind = code[0] === "2" ? "ok" : code[0] === "4" || code[0] === "5" ? "error" : "info";
    const moved = /^You are now in (#\S+) \(/.exec(text);
    if (code === "210" && moved) {
      state.serverRoom = moved[1];
      ensureRoom(moved[1]).joined = true;
      if (!state.rejoin) showRoom(moved[1]);
    }
    if (state.rejoin && state.rejoin.pending > 0 && /^(210|409|404|400|429)$/.test(code)) {
      // The answers to the !join lines sent after reconnecting are ours, not the user's.
      state.rejoin.pending -= 1;
      if (state.rejoin.pending === 0) {
        const back = state.rejoin.current;
        state.rejoin = null;
        showRoom(state.rooms.get(roomKey(back)) && state.rooms.get(roomKey(back)).joined ? back : state.serverRoom);
      }
      return;
    }
    setStatus(line, kind);
    addLine(null, "reply " + kind, [span("code", code + (more ? "-" : " ")), span("text", text)]);
  }

  function onRegistered() {
    state.registered = true;
    state.attempt = 0;
    state.serverRoom = LOBBY;
    state.reconnecting = false;
    setConn("open", "connected as " + state.name);
    setStatus("200 Registration successful", "ok");
    if (!state.name_confirmed) {
      state.name_confirmed = true;
      els.login.hidden = true;
      els.password.value = ""; // the page keeps it in memory (state) for reconnects, not in the form
      els.chat.hidden = false;
      document.title = state.name + " · chatroom";
      showRoom(LOBBY);
      els.input.focus();
      return;
    }
    // Back after a drop: the server has us in #lobby only; enter the other rooms again,
    // the room that was current last so that it is current again.
    const previous = [...state.rooms.values()].filter((info) => info.joined && roomKey(info.name) !== roomKey(LOBBY));
    for (const info of state.rooms.values()) {
      info.dedupe = info.joined || roomKey(info.name) === roomKey(LOBBY); // its replay repeats what is shown
      info.joined = roomKey(info.name) === roomKey(LOBBY);
    }
    notice("Reconnected as " + state.name + ".", "ok");
    const order = previous.filter((info) => info.name !== state.current);
    if (roomKey(state.current) !== roomKey(LOBBY) && previous.some((info) => info.name === state.current)) {
      order.push(ensureRoom(state.current));
    } else if (previous.length) {
      order.push(ensureRoom(LOBBY)); // made current again by a !join of a room we are in
    }
    if (order.length) {
      state.rejoin = { pending: order.length, current: state.current };
      for (const info of order) send("@" + state.name + ": !join " + info.name);
    }
    drawRooms();
  }

  // -- what the user types ------------------------------------------------------------

  function showLogin(message) {
    els.chat.hidden = true;
    els.login.hidden = false;
    els.loginError.textContent = message || "";
    els.name.disabled = false;
    els.password.disabled = false;
    els.name.focus();
    els.name.select();
  }

  function start(name) {
    name = name.trim();
    if (!name) return;
    if (/\s/.test(name)) {
      els.loginError.textContent = "A name has no spaces.";
      return;
    }
    state.name = name;
    state.password = els.password.value;
    state.name_confirmed = false;
    state.wanted = true;
    state.attempt = 0;
    els.loginError.textContent = "";
    els.name.disabled = true;
    els.password.disabled = true;
    connect();
  }

  function runLine(line) {
    if (!line.trim()) return;
    if (/[\x00-\x08\x0a-\x1f\x7f]/.test(line)) {
      setStatus("Not sent: the line contains control characters.", "error");
      return;
    }
    const room = state.current;
    if (line.startsWith("!") && !line.startsWith("!!")) {
      const [word, ...args] = line.slice(1).split(" ");
      const command = word.toLowerCase();
      if (command === "clear" && !args.join("").trim()) {
        currentRoom().pane.replaceChildren();
        return;
      }
      if (command === "exit" || command === "quit") {
        state.wanted = false;
        if (state.ws && state.registered) send("DISCONNECT " + state.name + " CHAT/1.1");
        notice("You left the chat. Reload the page to come back.");
        return;
      }
      if (command === "help" && !args.join("").trim()) {
        notice("The page's own commands: !clear (empties this room's pane), !exit (leaves). " +
               "Click a room to write there, a name to write to them alone. The server's commands follow.");
      }
      if (command === "leave" && !args.join("").trim()) line = "!leave " + room;
      // !join and !leave name their room; the others (!topic, !list, !history) are about the room shown.
      const aboutRoom = !["join", "leave", "msg", "rooms", "help", "follow", "unfollow", "follow?"].includes(command);
      if (!sendChat(line, aboutRoom ? room : null)) return;
      const to = command === "msg" ? /^!\S+ (\S+) (.+)$/.exec(line) : null;
      if (to) {
        // Your own private line, shown as sent; a refusal (404: not online) follows it.
        addLine(null, "private own", [span("time", nowStamp()), span("mark", "[private] "), "→ ",
                                      nameSpan(to[1], "@"), ": ", span("text", to[2])]);
      }
      return;
    }
    if (!sendChat(line, room)) return;
    const shown = line.startsWith("!!") ? line.slice(1) : line;
    const info = ensureRoom(room);
    remember(info, state.name, shown);
    addLine(room, "msg own", [span("time", nowStamp()), nameSpan(state.name, "@"), ": ", span("text", shown)]);
  }

  function remembersent(line) {
    if (line.trim() && state.sent[state.sent.length - 1] !== line) state.sent.push(line);
    if (state.sent.length > INPUT_HISTORY_MAX) state.sent.shift();
    state.sentIndex = state.sent.length;
    state.draft = "";
  }

  for (const field of [els.name, els.password]) {
    field.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        start(els.name.value);
      }
    });
  }

  els.input.addEventListener("keydown", (event) => {
    const input = els.input;
    if (event.key === "Enter" && !event.isComposing) {
      event.preventDefault();
      const line = input.value;
      remembersent(line);
      input.value = "";
      runLine(line);
    } else if (event.key === "ArrowUp" && state.sentIndex > 0) {
      event.preventDefault();
      if (state.sentIndex === state.sent.length) state.draft = input.value;
      state.sentIndex -= 1;
      input.value = state.sent[state.sentIndex];
    } else if (event.key === "ArrowDown" && state.sentIndex < state.sent.length) {
      event.preventDefault();
      state.sentIndex += 1;
      input.value = state.sentIndex === state.sent.length ? state.draft : state.sent[state.sentIndex];
    }
  });

  els.join.addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    event.preventDefault();
    let room = els.join.value.trim();
    if (!room) return;
    if (!room.startsWith("#")) room = "#" + room;
    const info = state.rooms.get(roomKey(room));
    if (info && info.joined) showRoom(info.name);
    else sendChat("!join " + room);
    els.join.value = "";
    els.input.focus();
  });

  function onRoomPicked(event) {
    const li = event.target.closest("li[data-room]");
    if (!li) return;
    if (event.type === "keydown" && event.key !== "Enter") return;
    showRoom(li.dataset.room);
    els.input.focus();
  }
  els.rooms.addEventListener("click", onRoomPicked);
  els.rooms.addEventListener("keydown", onRoomPicked);

  function onNamePicked(event) {
    const el = event.target.closest(".name");
    if (!el || !el.dataset.name || el.dataset.name === state.name) return;
    els.input.value = "!msg " + el.dataset.name + " ";
    els.input.focus();
  }
  els.members.addEventListener("click", onNamePicked);
  els.log.addEventListener("click", onNamePicked);

  window.addEventListener("online", () => {
    // The network is back: no need to wait out the backoff.
    if (state.wanted && !state.ws && state.name_confirmed) {
      state.attempt = 0;
      connect();
    }
  });

  // For tests and the curious: the colour class of a name, as the terminal would pick it.
  window.chatroomColour = colourClass;
  els.name.focus();
})();
