/**
 * The Switchboard console: one Socket.IO connection to the gateway that
 * served this page (through the balancer, so possibly another gateway), with
 * two namespaces multiplexed on it: /calls to join calls and send events,
 * /dashboard to watch calls and follow the fleet feed.
 *
 * Plain DOM, no framework. Everything the gateway sends is shown with
 * textContent, never as HTML.
 */
import { connectErrorCode, describeError } from "./console-errors.js";

// Names from gateway/src/protocol.ts (a static page cannot import TypeScript).
const EVENT = {
  hello: "server:hello",
  draining: "server:draining",
  join: "join",
  leave: "leave",
  watch: "watch",
  unwatch: "unwatch",
  callEvent: "call:event",
  fleetWatch: "fleet:watch",
  fleetStatus: "fleet:status",
};
const ACK_TIMEOUT_MS = 5000;
/** The gateways report every 2 s; five missed reports and a gateway is gone. */
const FLEET_SILENCE_MS = 10_000;
const LOG_LIMIT = 200;
const TOKEN_KEY = "switchboard.console.token";
/** Refusals that pass with time; the others need the person to act (a new token). */
const RETRY_LATER = new Set(["rate_limited", "too_many_connections"]);

const $ = (id) => document.getElementById(id);
const ui = {
  state: $("state"),
  token: $("token"),
  connect: $("connect"),
  disconnect: $("disconnect"),
  forgetToken: $("forget-token"),
  gateway: $("gateway"),
  socketId: $("socket-id"),
  membership: $("membership"),
  callId: $("call-id"),
  watch: $("watch"),
  leave: $("leave"),
  eventType: $("event-type"),
  eventData: $("event-data"),
  errorPanel: $("error-panel"),
  error: $("error"),
  log: $("log"),
  fleetNote: $("fleet-note"),
  gateways: document.querySelector("#gateways tbody"),
  shards: document.querySelector("#shards tbody"),
};

/** The live connection, or undefined when the person disconnected. */
let conn;
/** Calls this page joined (in /calls) and watches (in /dashboard), kept across reconnects. */
const joined = new Set();
const watched = new Set();
/** gateway id -> { status, seenAt } from the fleet feed. */
const fleet = new Map();
let shardReport = { shards: [], from: "", seenAt: 0 };
let myGateway = "";

// ---- state line ---------------------------------------------------------

let countdown;
function setState(state, text) {
  ui.state.dataset.state = state;
  ui.state.textContent = text;
  document.body.dataset.state = state;
}
function stopCountdown() {
  if (countdown) clearInterval(countdown);
  countdown = undefined;
}

// ---- errors and the event log -------------------------------------------

function showError(code, detail, context) {
  const e = describeError(code, detail);
  // A retry loop repeats the same error: log it once per streak.
  const repeat = !ui.errorPanel.hidden && ui.errorPanel.dataset.code === e.code;
  ui.error.replaceChildren();
  const title = document.createElement("p");
  title.className = "error-text";
  title.textContent = (context ? `${context}: ` : "") + e.text;
  const meta = document.createElement("p");
  meta.className = "error-meta";
  const codeEl = document.createElement("code");
  codeEl.textContent = e.code;
  meta.append(codeEl, e.detail ? ` — ${e.detail}` : "");
  ui.error.append(title, meta);
  ui.errorPanel.hidden = false;
  ui.errorPanel.dataset.code = e.code;
  if (!repeat) logLine("error", `${context ? context + ": " : ""}${e.code}${e.detail ? " — " + e.detail : ""}`);
}
function clearError() {
  ui.errorPanel.hidden = true;
  ui.error.replaceChildren();
  delete ui.errorPanel.dataset.code;
}

function timeText(ms) {
  const d = new Date(ms);
  return d.toLocaleTimeString([], { hour12: false }) + "." + String(d.getMilliseconds()).padStart(3, "0");
}

function addEntry(li) {
  ui.log.prepend(li);
  while (ui.log.childElementCount > LOG_LIMIT) ui.log.lastElementChild.remove();
}

function entry(kind) {
  const li = document.createElement("li");
  li.className = `entry ${kind}`;
  const t = document.createElement("time");
  t.textContent = timeText(Date.now());
  li.append(t, " ");
  return li;
}

function logLine(kind, text) {
  const li = entry(kind);
  li.append(text);
  addEntry(li);
}

function dataText(data) {
  const text = typeof data === "string" ? data : JSON.stringify(data);
  return text.length > 300 ? text.slice(0, 300) + "…" : text;
}

/** A received call:event: what, where from, who delivered it, how long it took. */
function logCallEvent(event, role) {
  const receivedAt = Date.now();
  const li = entry("received");
  const latency = typeof event.ts === "number" ? receivedAt - event.ts : NaN;
  li.dataset.type = String(event.type);
  li.dataset.callId = String(event.callId);
  li.dataset.via = String(event.via);
  li.dataset.deliveredBy = myGateway;
  const what = document.createElement("strong");
  what.textContent = String(event.type);
  const call = document.createElement("code");
  call.textContent = String(event.callId);
  const data = document.createElement("span");
  data.className = "data";
  data.textContent = dataText(event.data);
  const route = document.createElement("span");
  route.className = "route";
  route.textContent = `via ${event.via} → delivered by ${myGateway} · ${Number.isFinite(latency) ? latency + " ms" : "?"}`;
  const tag = document.createElement("span");
  tag.className = "tag";
  tag.textContent = role;
  li.append(what, " in ", call, " ", tag, " ", data, " ", route);
  addEntry(li);
}

// ---- connection -----------------------------------------------------------

function savedToken() {
  try {
    return localStorage.getItem(TOKEN_KEY) ?? "";
  } catch {
    return "";
  }
}
function saveToken(token) {
  try {
    if (token) localStorage.setItem(TOKEN_KEY, token);
    else localStorage.removeItem(TOKEN_KEY);
  } catch {
    /* storage off (private mode): the token lives in the field only */
  }
}

function connect() {
  disconnect(true);
  clearError();
  const token = ui.token.value.trim();
  saveToken(token);
  const auth = token ? { token } : {};
  // One Manager, so /calls and /dashboard share one WebSocket and land on
  // the same gateway. WebSocket only, as the gateway serves no polling.
  const manager = new window.io.Manager(location.origin, {
    transports: ["websocket"],
    reconnection: true,
    reconnectionDelay: 500,
    reconnectionDelayMax: 5000,
    randomizationFactor: 0.5,
    timeout: 8000,
    autoConnect: false,
  });
  const calls = manager.socket("/calls", { auth });
  const dashboard = manager.socket("/dashboard", { auth });
  conn = { manager, calls, dashboard, reconnectTimer: undefined, draining: false };
  const c = conn;
  setState("connecting", "Connecting…");
  ui.connect.textContent = "Reconnect";
  ui.disconnect.disabled = false;

  manager.on("reconnect_attempt", (n) => {
    if (conn === c && !c.draining) setState("reconnecting", `Reconnecting (attempt ${n})…`);
  });

  calls.on(EVENT.hello, (hello) => {
    if (conn !== c) return;
    myGateway = String(hello?.gateway ?? "?");
    c.draining = false;
    stopCountdown();
    ui.gateway.textContent = myGateway;
    ui.socketId.textContent = calls.id ?? "–";
    setState("connected", `Connected to ${myGateway}`);
    logLine("system", `connected to ${myGateway}`);
    renderFleet();
  });
  calls.on("connect", () => {
    for (const callId of joined) void request(calls, EVENT.join, { callId }, `rejoin ${callId}`);
  });
  dashboard.on("connect", () => {
    ui.fleetNote.dataset.unavailable = "";
    void request(dashboard, EVENT.fleetWatch, {}, "fleet feed", { quiet: true });
    for (const callId of watched) void request(dashboard, EVENT.watch, { callId }, `rewatch ${callId}`);
  });

  calls.on("connect_error", (err) => {
    if (conn !== c) return;
    const { code, detail } = connectErrorCode(err);
    showError(code, detail, "Connection refused");
    if (code === "unreachable" && calls.active) {
      setState("reconnecting", "Cannot reach a gateway: retrying…");
    } else if (RETRY_LATER.has(code)) {
      // Admission refusals pass: retry later, jittered so pages spread out.
      reconnectIn(c, 3000 + Math.random() * 3000, `Refused (${code}) — retrying in`);
    } else {
      // The gateway refused us (token, admission): retrying with the same
      // token would be refused again, so stop until the person acts.
      setState("refused", `Refused: ${code}`);
      ui.connect.textContent = "Connect";
    }
  });
  dashboard.on("connect_error", (err) => {
    const { code, detail } = connectErrorCode(err);
    if (code === "invalid_namespace") {
      ui.fleetNote.textContent = "This gateway does not serve /dashboard: no fleet feed and no watching here.";
      ui.fleetNote.dataset.unavailable = "true";
    } else if (code !== "unreachable" && !calls.connected) {
      // Shown once, by /calls' handler, when both are refused alike.
    } else if (code !== "unreachable") {
      showError(code, detail, "Dashboard refused");
    }
  });

  calls.on("disconnect", (reason) => {
    if (conn !== c) return;
    ui.socketId.textContent = "–";
    logLine("system", `disconnected from ${myGateway || "gateway"} (${reason})`);
    if (reason === "io client disconnect") return;
    if (reason === "io server disconnect") {
      // The gateway closed us (shutdown): the client library does not retry
      // this case by itself, so reconnect through the balancer, which now
      // routes to a ready gateway. Jittered, so a fleet of pages spreads out.
      if (!c.draining) reconnectIn(c, 300 + Math.random() * 700);
      return;
    }
    if (!c.draining) setState("reconnecting", `Connection lost (${reason}): reconnecting…`);
  });

  calls.on(EVENT.draining, (msg) => {
    if (conn !== c) return;
    const ms = Math.max(0, Number(msg?.reconnectInMs) || 0);
    c.draining = true;
    logLine("system", `${myGateway} is draining: reconnecting in ${Math.ceil(ms / 1000)} s`);
    reconnectIn(c, ms);
  });

  calls.on(EVENT.callEvent, (event) => logCallEvent(event, "member"));
  dashboard.on(EVENT.callEvent, (event) => logCallEvent(event, "watcher"));
  dashboard.on(EVENT.fleetStatus, (status) => {
    if (!status || typeof status.gateway !== "string") return;
    fleet.set(status.gateway, { status, seenAt: Date.now() });
    if (Array.isArray(status.shards) && status.shards.length > 0) {
      shardReport = { shards: status.shards, from: status.gateway, seenAt: Date.now() };
    }
    renderFleet();
  });

  calls.connect();
  dashboard.connect();
}

/** Reconnects after `ms`, showing a countdown; a new TCP connection, so the balancer picks a ready gateway. */
function reconnectIn(c, ms, reason) {
  if (c.reconnectTimer) clearTimeout(c.reconnectTimer);
  stopCountdown();
  const at = Date.now() + ms;
  const label =
    reason ?? (c.draining ? `Draining: ${myGateway} is shutting down — reconnecting in` : "Gateway closed the connection — reconnecting in");
  const tick = () => setState(c.draining ? "draining" : "reconnecting", `${label} ${Math.max(0, Math.ceil((at - Date.now()) / 1000))} s`);
  tick();
  countdown = setInterval(tick, 250);
  c.reconnectTimer = setTimeout(() => {
    stopCountdown();
    if (conn !== c) return;
    c.draining = false;
    setState("reconnecting", "Reconnecting…");
    // Closing both sockets closes the shared WebSocket; connecting them again
    // opens a new one.
    c.calls.disconnect();
    c.dashboard.disconnect();
    c.calls.connect();
    c.dashboard.connect();
  }, ms);
}

function disconnect(silent) {
  const c = conn;
  conn = undefined;
  stopCountdown();
  if (!c) return;
  if (c.reconnectTimer) clearTimeout(c.reconnectTimer);
  c.calls.disconnect();
  c.dashboard.disconnect();
  c.manager.removeAllListeners();
  if (!silent) {
    myGateway = "";
    ui.gateway.textContent = "–";
    ui.socketId.textContent = "–";
    ui.connect.textContent = "Connect";
    ui.disconnect.disabled = true;
    setState("idle", "Not connected");
    logLine("system", "disconnected");
  }
}

/** Emits with an ack; a refusal or a timeout is shown; resolves with the ack or undefined. */
async function request(socket, event, payload, what, o = {}) {
  if (!socket.connected) {
    showError("not_connected", "", what);
    return undefined;
  }
  const started = performance.now();
  let ack;
  try {
    ack = await socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, payload);
  } catch {
    showError("timeout", `${event} got no ack within ${ACK_TIMEOUT_MS / 1000} s`, what);
    return undefined;
  }
  if (!ack || ack.ok !== true) {
    showError(ack?.error?.code ?? "unknown", ack?.error?.message ?? "", what);
    return ack;
  }
  if (!o.quiet) logLine("ack", `${what}: ok (${Math.round(performance.now() - started)} ms)`);
  return ack;
}

// ---- calls ----------------------------------------------------------------

function renderMembership() {
  const parts = [];
  if (joined.size) parts.push(`member of ${[...joined].join(", ")}`);
  if (watched.size) parts.push(`watching ${[...watched].join(", ")}`);
  ui.membership.textContent = parts.join("; ") || "–";
}

function needConnection(what) {
  if (conn) return true;
  showError("not_connected", "", what);
  return false;
}

async function join() {
  const callId = ui.callId.value.trim();
  if (!needConnection(`join ${callId}`)) return;
  const ack = await request(conn.calls, EVENT.join, { callId }, `join ${callId}`);
  if (ack?.ok) {
    clearError();
    joined.add(callId);
    renderMembership();
  }
}

async function watch() {
  const callId = ui.callId.value.trim();
  if (!needConnection(`watch ${callId}`)) return;
  const ack = await request(conn.dashboard, EVENT.watch, { callId }, `watch ${callId}`);
  if (ack?.ok) {
    clearError();
    watched.add(callId);
    renderMembership();
  }
}

async function leave() {
  const callId = ui.callId.value.trim();
  if (!needConnection(`leave ${callId}`)) return;
  if (watched.has(callId)) {
    const ack = await request(conn.dashboard, EVENT.unwatch, { callId }, `unwatch ${callId}`);
    if (ack?.ok) watched.delete(callId);
  }
  if (joined.has(callId) || !watched.has(callId)) {
    const ack = await request(conn.calls, EVENT.leave, { callId }, `leave ${callId}`);
    if (ack?.ok) joined.delete(callId);
  }
  renderMembership();
}

function parseData(text) {
  if (text.trim() === "") return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

async function send() {
  const callId = ui.callId.value.trim();
  const type = ui.eventType.value.trim();
  if (!needConnection(`send ${type}`)) return;
  const data = parseData(ui.eventData.value);
  const ack = await request(conn.calls, EVENT.callEvent, { callId, type, data }, `sent ${type} to ${callId}`);
  if (ack?.ok) clearError();
}

// ---- fleet panel ------------------------------------------------------------

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function renderFleet() {
  const now = Date.now();
  for (const [id, g] of fleet) if (now - g.seenAt > FLEET_SILENCE_MS) fleet.delete(id);
  const rows = [...fleet.values()]
    .sort((a, b) => a.status.gateway.localeCompare(b.status.gateway, undefined, { numeric: true }))
    .map(({ status, seenAt }) => {
      const tr = document.createElement("tr");
      tr.dataset.gateway = status.gateway;
      const name = cell(status.gateway);
      if (status.gateway === myGateway) {
        tr.classList.add("mine");
        const you = document.createElement("span");
        you.className = "tag";
        you.textContent = "this page";
        name.append(" ", you);
      }
      const n = (nsp) => (typeof status.connections?.[nsp] === "number" ? String(status.connections[nsp]) : "–");
      const age = Math.round((now - seenAt) / 1000);
      tr.append(name, cell(n("/calls"), "num calls"), cell(n("/dashboard"), "num dashboard"),
        cell(status.draining ? "draining" : age > 4 ? `silent ${age} s` : "serving", "gw-state"));
      return tr;
    });
  ui.gateways.replaceChildren(...rows);

  const shardsFresh = now - shardReport.seenAt <= FLEET_SILENCE_MS;
  const shardRows = (shardsFresh ? shardReport.shards : []).map((s) => {
    const tr = document.createElement("tr");
    tr.dataset.node = String(s.node);
    tr.append(cell(String(s.node)), cell(s.channels === null ? `no answer${s.error ? ": " + s.error : ""}` : String(s.channels), "num channels"));
    return tr;
  });
  ui.shards.replaceChildren(...shardRows);
}
setInterval(renderFleet, 1000);

// ---- wiring -----------------------------------------------------------------

$("connect-form").addEventListener("submit", (e) => {
  e.preventDefault();
  connect();
});
ui.disconnect.addEventListener("click", () => disconnect(false));
ui.forgetToken.addEventListener("click", () => {
  ui.token.value = "";
  saveToken("");
  logLine("system", "token forgotten");
});
$("call-form").addEventListener("submit", (e) => {
  e.preventDefault();
  void join();
});
ui.watch.addEventListener("click", () => void watch());
ui.leave.addEventListener("click", () => void leave());
$("send-form").addEventListener("submit", (e) => {
  e.preventDefault();
  void send();
});
$("dismiss-error").addEventListener("click", clearError);
$("clear-log").addEventListener("click", () => ui.log.replaceChildren());

// A token may arrive in the URL fragment (`/#token=...`, as `npm run local`
// prints it): fragments never reach the server or its logs. Keep it, then
// take it out of the address bar.
const fragmentToken = new URLSearchParams(location.hash.slice(1)).get("token");
if (fragmentToken) {
  saveToken(fragmentToken);
  history.replaceState(null, "", location.pathname + location.search);
}
ui.token.value = savedToken();
if (!window.io) {
  showError("unreachable", "the Socket.IO client (/assets/socket.io.min.js) did not load", "Page");
} else {
  connect();
}
