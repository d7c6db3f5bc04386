// The dashboard served at GET /: one self-contained page (no external
// assets, inline CSS and JS only, allowed by the page's CSP). It reads the
// JSON API with fetch() and renders every value with textContent, so names
// and statements coming from clients can never inject markup. When the API
// needs a token it asks for it and keeps it in sessionStorage (gone when the
// tab closes).
#include "dashboard.h"

namespace pgmux::admin::detail {

std::string_view dashboard_html() {
    return R"PGMUX(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>pgmux admin</title>
<style>
  :root { --fg: #1d2330; --muted: #6b7385; --line: #dde1e8; --bg: #f6f7f9; --warn: #b4530b;
          --bad: #b3261e; --ok: #1b7f3b; --accent: #2f5db3; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
  header { display: flex; gap: 1em; align-items: center; padding: .6em 1.2em; background: #fff;
           border-bottom: 1px solid var(--line); position: sticky; top: 0; }
  header h1 { font-size: 1.2em; margin: 0; }
  .pill { padding: .1em .6em; border-radius: 1em; font-size: .85em; border: 1px solid var(--line); }
  .pill.ok { color: var(--ok); border-color: var(--ok); }
  .pill.bad { color: var(--bad); border-color: var(--bad); }
  .spacer { flex: 1; }
  main { padding: 1em 1.2em; display: grid; gap: 1.2em; }
  section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .8em 1em; }
  section h2 { font-size: 1em; margin: 0 0 .6em; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: .3em .6em; border-bottom: 1px solid var(--line);
           vertical-align: top; }
  th { color: var(--muted); font-weight: 600; font-size: .85em; }
  td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
  code { font: 12px/1.4 ui-monospace, monospace; white-space: pre-wrap; word-break: break-word; }
  .reason { font-weight: 600; color: var(--warn); }
  .muted { color: var(--muted); }
  .cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(11em, 1fr)); gap: .6em; }
  .card { border: 1px solid var(--line); border-radius: 6px; padding: .5em .7em; }
  .card .value { font-size: 1.3em; font-variant-numeric: tabular-nums; }
  .card .label { color: var(--muted); font-size: .8em; }
  button { font: inherit; padding: .15em .6em; border: 1px solid var(--line); border-radius: 4px;
           background: #fff; cursor: pointer; }
  button:hover { border-color: var(--accent); }
  #error { color: var(--bad); }
  #login { display: none; }
  #login.shown { display: block; }
  #login input { font: inherit; width: 24em; max-width: 100%; }
  .empty { color: var(--muted); font-style: italic; }
</style>
</head>
<body>
<header>
  <h1>pgmux</h1>
  <span id="ready" class="pill">…</span>
  <span id="error"></span>
  <span class="spacer"></span>
  <span id="updated" class="muted"></span>
  <button id="forget" type="button" hidden>Forget token</button>
</header>
<main>
  <section id="login">
    <h2>Admin token required</h2>
    <form id="login-form">
      <input id="token" type="password" autocomplete="off" placeholder="bearer token">
      <button type="submit">Use token</button>
      <span class="muted">Kept in this tab only (sessionStorage).</span>
    </form>
  </section>
  <section>
    <h2>Counters</h2>
    <div id="counters" class="cards"></div>
  </section>
  <section>
    <h2>Pools</h2>
    <table>
      <thead><tr><th>database</th><th>user</th><th>mode</th><th class="num">size</th>
        <th class="num">clients active / waiting / idle</th>
        <th class="num">servers active / idle / pinned / connecting</th>
        <th class="num">longest wait</th><th class="num">avg wait</th><th>state</th><th></th></tr></thead>
      <tbody id="pools"></tbody>
    </table>
  </section>
  <section>
    <h2>Pinned clients</h2>
    <table>
      <thead><tr><th class="num">client</th><th>user@database</th><th>application</th>
        <th>address</th><th class="num">server</th><th>reason</th><th class="num">pinned for</th>
        <th>caused by</th><th></th></tr></thead>
      <tbody id="pinned"></tbody>
    </table>
    <div id="pinned-more" class="muted"></div>
  </section>
  <section>
    <h2>Pins by reason</h2>
    <table>
      <thead><tr><th>reason</th><th class="num">pinned now</th><th class="num">started</th>
        <th class="num">ended</th><th class="num">time pinned</th></tr></thead>
      <tbody id="reasons"></tbody>
    </table>
  </section>
  <section>
    <h2>Statements that caused pins</h2>
    <table>
      <thead><tr><th class="num">count</th><th>reason</th><th>normalised statement</th></tr></thead>
      <tbody id="causes"></tbody>
    </table>
  </section>
</main>
<script>
"use strict";
const TOKEN_KEY = "pgmux-admin-token";
const REFRESH_MS = 3000;
let timer = null;

const $ = (id) => document.getElementById(id);
const token = () => sessionStorage.getItem(TOKEN_KEY);

class Unauthorized extends Error {}

async function api(path, options = {}) {
  const headers = {};
  if (token()) headers["Authorization"] = "Bearer " + token();
  const response = await fetch(path, { ...options, headers, cache: "no-store" });
  if (response.status === 401) throw new Unauthorized();
  const body = await response.json().catch(() => ({}));
  if (!response.ok && !(path === "/readyz" && response.status === 503)) {
    const message = body.error ? body.error.code + ": " + body.error.message : response.statusText;
    throw new Error(path + " -> " + response.status + " " + message);
  }
  return body;
}

// Builds an element; children are nodes or strings (always text, never HTML).
function el(tag, props, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props || {});
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function num(value) { return el("td", { className: "num" }, value); }

function duration(seconds) {
  if (seconds < 1) return (seconds * 1000).toFixed(1) + " ms";
  if (seconds < 120) return seconds.toFixed(1) + " s";
  if (seconds < 7200) return (seconds / 60).toFixed(1) + " min";
  return (seconds / 3600).toFixed(1) + " h";
}

function fill(tbody, rows, columns, emptyText) {
  tbody.replaceChildren(...rows);
  if (rows.length === 0) {
    tbody.append(el("tr", {}, el("td", { className: "empty", colSpan: columns }, emptyText)));
  }
}

function actionButton(label, question, path) {
  return el("button", {
    type: "button",
    onclick: async () => {
      if (!confirm(question)) return;
      try { await api(path, { method: "POST" }); refresh(); }
      catch (error) { showError(error); }
    },
  }, label);
}

const segment = (text) => encodeURIComponent(text);

function renderPools(pools) {
  fill($("pools"), pools.map((p) => el("tr", {},
    el("td", {}, p.database), el("td", {}, p.user), el("td", {}, p.pool_mode), num(p.pool_size),
    num(`${p.clients.active} / ${p.clients.waiting} / ${p.clients.idle}`),
    num(`${p.servers.active} / ${p.servers.idle} / ${p.servers.pinned} / ${p.servers.connecting}`),
    num(duration(p.wait.longest_seconds)), num(duration(p.wait.average_seconds)),
    el("td", {}, p.paused ? "paused" : "running"),
    el("td", {}, p.paused
      ? actionButton("Resume", `Resume pool ${p.database}/${p.user}?`,
          `/api/v1/pools/${segment(p.database)}/${segment(p.user)}/resume`)
      : actionButton("Pause", `Pause pool ${p.database}/${p.user}?`,
          `/api/v1/pools/${segment(p.database)}/${segment(p.user)}/pause`)))),
    10, "no pools yet");
}

function renderPinned(list) {
  const rows = [];
  for (const c of list.clients) {
    c.pins.forEach((pin, i) => {
      const first = i === 0;
      rows.push(el("tr", {},
        num(first ? c.id : ""), el("td", {}, first ? `${c.user}@${c.database}` : ""),
        el("td", {}, first ? c.application_name : ""), el("td", {}, first ? c.address : ""),
        num(first && c.server_id !== null ? c.server_id : ""),
        el("td", { className: "reason" }, pin.reason), num(duration(pin.seconds)),
        el("td", {}, el("code", {}, pin.statement || "(unknown)")),
        el("td", {}, first ? actionButton("Disconnect", `Disconnect client ${c.id}?`,
                                          `/api/v1/clients/${c.id}/disconnect`) : "")));
    });
  }
  fill($("pinned"), rows, 9, "no client is pinned");
  $("pinned-more").textContent =
    list.truncated ? `showing ${list.clients.length} of ${list.total} pinned clients` : "";
}

function renderPinning(pinning) {
  fill($("reasons"), pinning.reasons.map((r) => el("tr", {},
    el("td", { className: "reason" }, r.reason), num(r.clients_pinned_now), num(r.pins_started),
    num(r.pins_ended), num(duration(r.seconds_pinned)))), 5, "no pins so far");
  fill($("causes"), pinning.top_statements.map((s) => el("tr", {},
    num(s.count), el("td", { className: "reason" }, s.reason),
    el("td", {}, el("code", {}, s.statement)))), 3, "no pins so far");
}

function renderCounters(pools, pinned, pinning) {
  const sum = (f) => pools.reduce((total, p) => total + f(p), 0);
  const r = pinning.replay, cache = pinning.statement_cache;
  const lookups = cache.hits + cache.misses;
  const cards = [
    ["clients active", sum((p) => p.clients.active)],
    ["clients waiting", sum((p) => p.clients.waiting)],
    ["clients idle", sum((p) => p.clients.idle)],
    ["clients pinned", pinned.total],
    ["servers in use", sum((p) => p.servers.active + p.servers.pinned)],
    ["servers pinned", sum((p) => p.servers.pinned)],
    ["servers idle", sum((p) => p.servers.idle)],
    ["state replays", r.replays_sent],
    ["SETs replayed", r.sets_replayed],
    ["statements re-prepared", r.statements_reprepared],
    ["parses saved", r.parses_saved],
    ["statement cache hit rate", lookups ? (100 * cache.hits / lookups).toFixed(1) + " %" : "–"],
    ["statement cache evictions", cache.evictions],
  ];
  $("counters").replaceChildren(...cards.map(([label, value]) =>
    el("div", { className: "card" }, el("div", { className: "value" }, value),
       el("div", { className: "label" }, label))));
}

function showError(error) {
  if (error instanceof Unauthorized) {
    $("login").classList.add("shown");
    $("error").textContent = token() ? "token rejected" : "";
    return;
  }
  $("error").textContent = String(error.message || error);
}

async function refresh() {
  clearTimeout(timer);
  try {
    const ready = await api("/readyz");
    $("ready").textContent = ready.status === "ready" ? "ready" : "not ready";
    $("ready").className = "pill " + (ready.status === "ready" ? "ok" : "bad");
    const [pools, pinned, pinning] = await Promise.all([
      api("/api/v1/pools"), api("/api/v1/clients?pinned=true&limit=200"), api("/api/v1/pinning")]);
    renderPools(pools.pools);
    renderPinned(pinned);
    renderPinning(pinning);
    renderCounters(pools.pools, pinned, pinning);
    $("login").classList.remove("shown");
    $("error").textContent = "";
    $("updated").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (error) {
    showError(error);
  }
  $("forget").hidden = !token();
  if (!document.hidden) timer = setTimeout(refresh, REFRESH_MS);
}

$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const value = $("token").value.trim();
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  $("token").value = "";
  refresh();
});
$("forget").addEventListener("click", () => { sessionStorage.removeItem(TOKEN_KEY); refresh(); });
document.addEventListener("visibilitychange", () => { if (!document.hidden) refresh(); });
refresh();
</script>
</body>
</html>
)PGMUX";
}

}  // namespace pgmux::admin::detail
