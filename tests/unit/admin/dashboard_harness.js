// Runs the dashboard's own script against a live AdminServer, with a small
// fake DOM (no browser and no npm package needed), and prints what it
// rendered as JSON for admin_dashboard_test to check.
//   node dashboard_harness.js <base-url> [token]
"use strict";
const vm = require("vm");

const [base, token] = process.argv.slice(2);

class FakeNode {
  constructor() { this.childNodes = []; }
  append(...nodes) {
    for (const node of nodes) {
      this.childNodes.push(node instanceof FakeNode ? node : new FakeText(String(node)));
    }
  }
  replaceChildren(...nodes) { this.childNodes = []; this.append(...nodes); }
  get textContent() { return this.childNodes.map((c) => c.textContent).join(""); }
  set textContent(value) { this.childNodes = [new FakeText(String(value))]; }
}
class FakeText extends FakeNode {
  constructor(data) { super(); this.data = data; }
  get textContent() { return this.data; }
}
class FakeElement extends FakeNode {
  constructor(tag) {
    super();
    this.tagName = tag.toUpperCase();
    this.className = "";
    this.hidden = false;
    this.value = "";
    this.listeners = {};
    const classes = new Set();
    this.classList = {
      add: (c) => classes.add(c), remove: (c) => classes.delete(c), contains: (c) => classes.has(c),
    };
  }
  addEventListener(type, listener) { (this.listeners[type] ||= []).push(listener); }
  // The dashboard must never build markup from data.
  set innerHTML(_) { throw new Error("innerHTML used"); }
  elements(tag) {
    const found = [];
    const walk = (node) => {
      for (const child of node.childNodes) {
        if (child instanceof FakeElement) {
          if (child.tagName === tag) found.push(child);
          walk(child);
        }
      }
    };
    walk(this);
    return found;
  }
}

async function main() {
  const page = await (await fetch(base + "/")).text();
  const script = page.match(/<script>([\s\S]*?)<\/script>/)[1];
  const byId = new Map();
  const missingIds = [];
  const document = {
    hidden: false,
    listeners: {},
    getElementById(id) {
      if (!page.includes(`id="${id}"`)) missingIds.push(id);
      if (!byId.has(id)) byId.set(id, new FakeElement("div"));
      return byId.get(id);
    },
    createElement: (tag) => new FakeElement(tag),
    createTextNode: (text) => new FakeText(text),
    addEventListener(type, listener) { (this.listeners[type] ||= []).push(listener); },
  };
  const storage = new Map();
  const timers = [];
  const requests = [];
  const context = {
    document,
    Node: FakeNode,
    sessionStorage: {
      getItem: (k) => (storage.has(k) ? storage.get(k) : null),
      setItem: (k, v) => storage.set(k, String(v)),
      removeItem: (k) => storage.delete(k),
    },
    fetch: (path, options) => {
      requests.push(((options && options.method) || "GET") + " " + path);
      return fetch(base + path, options);
    },
    confirm: () => true,
    setTimeout: (fn, ms) => { timers.push(ms); return timers.length; },
    clearTimeout: () => {},
    Promise, Error, JSON, String, Object, Date, encodeURIComponent, console,
  };
  vm.createContext(context);
  vm.runInContext(script, context);

  const $ = (id) => document.getElementById(id);
  const settle = async (predicate) => {
    for (let i = 0; i < 200 && !predicate(); ++i) await new Promise((r) => setTimeout(r, 10));
  };
  const rendered = () => $("updated").textContent !== "" || $("login").classList.contains("shown");
  await settle(rendered);

  const result = { loginShownFirst: $("login").classList.contains("shown") };
  if (token) {
    $("token").value = token;
    for (const submit of $("login-form").listeners.submit) submit({ preventDefault() {} });
    await settle(() => $("updated").textContent !== "");
    result.tokenStored = context.sessionStorage.getItem("pgmux-admin-token");
  }
  const rows = (id) => $(id).elements("TR").map((tr) => tr.elements("TD").map((td) => td.textContent));
  Object.assign(result, {
    ready: $("ready").textContent,
    error: $("error").textContent,
    loginShown: $("login").classList.contains("shown"),
    pools: rows("pools"),
    pinned: rows("pinned"),
    reasons: rows("reasons"),
    causes: rows("causes"),
    counters: $("counters").elements("DIV").filter((d) => d.className === "card")
      .map((d) => d.textContent),
    timers,
    missingIds,
  });
  // Press the first Disconnect button, as an operator would.
  const button = $("pinned").elements("BUTTON")[0];
  if (button) {
    await button.onclick();
    result.afterClick = requests.filter((r) => r.startsWith("POST"));
  }
  console.log(JSON.stringify(result));
}

main().catch((error) => { console.error(error); process.exit(1); });
