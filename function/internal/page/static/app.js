// hpcgate researchers' page: OpenID Connect sign-in (authorization code
// flow with PKCE), GET /v1/me, dry runs as you type, runs watched node by
// node. Plain JavaScript, no build step; every text from the server is
// set with textContent, never parsed as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = "hpcgate.token";     // sessionStorage: gone with the tab
const PKCE_KEY = "hpcgate.pkce";       // sessionStorage, during sign-in only
const RECENT_KEY = "hpcgate.recent";   // localStorage: ids and commands, never tokens
const RECENT_MAX = 20;
const POLL_WAIT = 10;                  // seconds each long-poll GET waits

let config = {};
let token = null;
let expiryTimer = null;
let dryRunTimer = null;
let dryRunAbort = null;
let watchId = 0;                       // a new run or reopen stops the old watch
let tick = null;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c == null) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function banner(text, kind) {
  const b = $("banner");
  b.textContent = text || "";
  b.className = kind || "";
  b.hidden = !text;
}

// ---- sign-in -------------------------------------------------------------

function b64url(bytes) {
  let s = "";
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString(n) {
  const a = new Uint8Array(n);
  crypto.getRandomValues(a);
  return b64url(a);
}

async function discover() {
  const r = await fetch(config.discovery, { headers: { Accept: "application/json" } });
  if (!r.ok) throw new Error("the identity provider's metadata could not be read (HTTP " + r.status + ")");
  const m = await r.json();
  if (!m.authorization_endpoint || !m.token_endpoint) throw new Error("the identity provider's metadata names no authorization or token endpoint");
  return m;
}

function redirectURI() {
  return location.origin + "/";
}

async function signIn() {
  try {
    const meta = await discover();
    const verifier = randomString(48);
    const challenge = b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
    const state = randomString(16);
    const nonce = randomString(16);
    sessionStorage.setItem(PKCE_KEY, JSON.stringify({ verifier, state, nonce, tokenEndpoint: meta.token_endpoint }));
    const u = new URL(meta.authorization_endpoint, location.href);
    u.search = new URLSearchParams({
      response_type: "code", client_id: config.clientId, redirect_uri: redirectURI(),
      scope: config.scopes || "openid", state, nonce,
      code_challenge: challenge, code_challenge_method: "S256",
    }).toString();
    location.assign(u.toString());
  } catch (e) {
    banner("Sign-in could not start: " + e.message + ".");
  }
}

// finishSignIn exchanges the code in the URL for tokens, once.
async function finishSignIn(params) {
  const saved = JSON.parse(sessionStorage.getItem(PKCE_KEY) || "null");
  sessionStorage.removeItem(PKCE_KEY);
  history.replaceState(null, "", "/");
  if (params.get("error")) {
    throw new Error("the identity provider refused: " + (params.get("error_description") || params.get("error")));
  }
  if (!saved || saved.state !== params.get("state")) {
    throw new Error("the answer from the identity provider does not belong to this sign-in (state mismatch); sign in again");
  }
  const r = await fetch(new URL(saved.tokenEndpoint, location.href), {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
    body: new URLSearchParams({
      grant_type: "authorization_code", code: params.get("code"), redirect_uri: redirectURI(),
      client_id: config.clientId, code_verifier: saved.verifier,
    }),
  });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error("the token exchange failed: " + (body.error_description || body.error || "HTTP " + r.status));
  // The API takes a JWT whose audience is the gateway: an access token
  // when the provider issues JWT access tokens, else the ID token.
  const t = isJWT(body.access_token) ? body.access_token : body.id_token;
  if (!isJWT(t)) throw new Error("the identity provider returned no JWT");
  if (t === body.id_token && body.id_token) {
    const c = claims(body.id_token);
    if (c && c.nonce && c.nonce !== saved.nonce) throw new Error("the ID token's nonce does not match this sign-in");
  }
  return t;
}

function isJWT(t) {
  return typeof t === "string" && t.split(".").length === 3;
}

function claims(t) {
  try {
    const p = t.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(decodeURIComponent(escape(atob(p))));
  } catch (_) {
    return null;
  }
}

function useToken(t) {
  token = t;
  sessionStorage.setItem(TOKEN_KEY, t);
  clearTimeout(expiryTimer);
  const c = claims(t);
  if (c && c.exp) {
    const ms = c.exp * 1000 - Date.now();
    if (ms <= 0) return expired("Your sign-in has expired.");
    expiryTimer = setTimeout(() => expired("Your sign-in has expired."), Math.min(ms, 2 ** 31 - 1));
  }
  $("signin").hidden = true;
  $("app").hidden = false;
  $("signout").hidden = false;
  banner("");
  loadMe();
}

function expired(why) {
  token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  clearTimeout(expiryTimer);
  $("who").textContent = "";
  $("signout").hidden = true;
  $("app").hidden = true;
  showSignIn();
  banner(why + " Sign in again to go on; your recent commands are kept.");
}

function showSignIn() {
  $("signin").hidden = false;
  const btn = $("signin-button");
  if (!config.clientId) {
    btn.hidden = true;
    $("signin-text").textContent = "Sign-in with an identity provider is not configured here. Paste a bearer token below.";
    $("token-box").open = true;
  } else if (config.dev) {
    btn.textContent = "Sign in (local dev identity provider)";
  }
  btn.focus();
}

function signOut() {
  token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  location.assign("/");
}

// ---- the API ---------------------------------------------------------------

// api calls the gateway; it returns {status, body} and turns a 401 into
// the expired sign-in screen.
async function api(method, path, body, signal) {
  const r = await fetch(path, {
    method, signal,
    headers: Object.assign({ Authorization: "Bearer " + token, Accept: "application/json" },
      body ? { "Content-Type": "application/json" } : {}),
    body: body ? JSON.stringify(body) : undefined,
  });
  let data = {};
  try { data = await r.json(); } catch (_) { /* an empty or non-JSON answer */ }
  if (r.status === 401) {
    const msg = data.error && data.error.message;
    expired(msg === "token expired" ? "Your sign-in has expired." : "Your sign-in is not valid here (" + (msg || "unauthenticated") + ").");
    throw new SignedOut();
  }
  return { status: r.status, body: data, headers: r.headers };
}

class SignedOut extends Error {}

// words turns an error answer into a sentence a researcher can act on.
function words(res) {
  const e = (res && res.error) || {};
  const code = e.code || "";
  if (code === "PolicyUnavailable") return "No policy is available right now, so nothing can be decided and nothing was run. Try again in a minute; if it lasts, tell the platform team.";
  if (code.startsWith("Throttling")) return "E-HPC is throttling requests right now (" + code + "). Nothing was run; wait a few seconds and try again.";
  if (code === "ServiceUnavailable") return "E-HPC is unavailable right now. Nothing was run; try again shortly.";
  if (code === "UpstreamTimeout") return "E-HPC did not answer in time. " + (e.message || "");
  if (code === "PolicyDenied") return "The policy does not allow this command.";
  if (code === "ClusterNotFound") return "There is no such cluster (" + (e.message || code) + ").";
  if (code === "OutcomeUnknown") return "The command may have been sent, but E-HPC's answer was lost: " + (e.message || "") + " Check the recent commands before running it again.";
  if (code === "InvalidCommand" || code === "InvalidRequest") return e.message || "The request is not valid.";
  if (e.message) return e.message + (code ? " (" + code + ")" : "");
  return "Something went wrong (" + (res && res.status || "no answer") + ").";
}

// ---- who am I ----------------------------------------------------------------

async function loadMe() {
  const box = $("me-body");
  try {
    const { status, body } = await api("GET", "/v1/me");
    if (status !== 200) {
      box.textContent = words(body);
      return;
    }
    const p = body.principal || {};
    $("who").textContent = "Signed in as " + p.id + (p.groups && p.groups.length ? " (" + p.groups.join(", ") + ")" : "");
    box.replaceChildren(renderGrants(p, body.grants || []));
    fillClusters(body.grants || []);
  } catch (e) {
    if (!(e instanceof SignedOut)) box.textContent = "Could not load what you may run: " + e.message;
  }
}

function renderGrants(p, grants) {
  const intro = el("p", {}, "You are ", el("strong", {}, p.id), " (", p.type, ")",
    p.groups && p.groups.length ? [", in the groups ", el("strong", {}, p.groups.join(", "))] : ", in no group", ".");
  if (!grants.length) return el("div", {}, intro, el("p", {}, "No statement is attached to you: you may run nothing."));
  const rows = grants.map((g) => {
    const what = [];
    if (g.commands && g.commands.length) what.push(el("div", {}, g.effect === "Allow" ? "commands like " : "commands like ", codes(g.commands)));
    if (g.programs && g.programs.length) what.push(el("div", {}, "programs ", codes(g.programs)));
    const other = (g.conditions || []).filter((c) => !["hpcgate:CommandLine", "hpcgate:Program", "ehpc:Timeout"].includes(c.key));
    if (other.length) what.push(el("details", {}, el("summary", {}, other.length + " more condition" + (other.length > 1 ? "s" : "")),
      el("ul", {}, other.map((c) => el("li", {}, el("code", {}, c.key), " ", c.operator, " ", codes(c.values))))));
    const runs = g.actions.includes("ehpc:InvokeShellCommand");
    if (!what.length) what.push(!runs ? "any command's results" : g.effect === "Allow" ? "any command" : "every command");
    return el("tr", {},
      el("td", {}, el("span", { class: "tag " + (g.effect === "Allow" ? "allow" : "deny") }, g.effect === "Allow" ? "allows" : "denies")),
      el("td", {}, g.actions.map((a) => a === "ehpc:InvokeShellCommand" ? "run" : a === "ehpc:ListInvocationResults" ? "read results" : a).join(", ")),
      el("td", {}, g.notClusters ? "all but " : "", codes(g.clusters)),
      el("td", {}, what),
      el("td", {}, g.maxTimeout != null ? g.maxTimeout + " s" : "—"),
      el("td", { class: "muted" }, g.policy + (g.sid ? " / " + g.sid : ""), el("br"), "via " + g.via));
  });
  return el("div", {}, intro,
    el("table", {}, el("thead", {}, el("tr", {}, ["", "to", "on clusters", "what", "timeout up to", "statement"].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, rows)),
    el("p", { class: "muted" }, "A Deny wins over any Allow. This is a summary; the dry run below decides."));
}

function codes(list) {
  const out = [];
  list.forEach((v, i) => { if (i) out.push(", "); out.push(el("code", {}, v)); });
  return out;
}

function fillClusters(grants) {
  const ids = new Set(config.clusters || []);
  for (const g of grants) for (const c of g.clusters || []) if (!/[*?]/.test(c) && !g.notClusters && g.effect === "Allow") ids.add(c);
  $("clusters").replaceChildren(...[...ids].map((c) => el("option", { value: c })));
  if (!$("cluster").value && ids.size) $("cluster").value = [...ids][0];
  if (!$("reopen-cluster").value && ids.size) $("reopen-cluster").value = [...ids][0];
}

// ---- compose, dry run ----------------------------------------------------------

function request() {
  const r = { clusterId: $("cluster").value.trim(), command: $("command").value };
  const nodes = $("nodes").value.split(/[\s,]+/).filter(Boolean);
  if (nodes.length) r.instanceIds = nodes;
  const t = parseInt($("timeout").value, 10);
  if (t) r.timeout = t;
  const wd = $("workdir").value.trim();
  if (wd && wd !== "/root") r.workingDir = wd;
  return r;
}

function scheduleDryRun() {
  clearTimeout(dryRunTimer);
  dryRunTimer = setTimeout(dryRun, 350);
}

async function dryRun() {
  const req = request();
  const v = $("verdict");
  if (!req.command.trim() || !req.clusterId) {
    v.className = "";
    v.replaceChildren(el("span", { class: "muted" }, "Type a command: you will see whether it is allowed before you run it."));
    return;
  }
  if (dryRunAbort) dryRunAbort.abort();
  dryRunAbort = new AbortController();
  v.setAttribute("aria-busy", "true");
  try {
    const { body } = await api("POST", "/v1/commands", Object.assign({ dryRun: true }, req), dryRunAbort.signal);
    renderVerdict(body);
    v.dataset.command = req.command; // what this verdict is for
  } catch (e) {
    if (e.name === "AbortError" || e instanceof SignedOut) return;
    v.className = "error";
    v.textContent = "The decision could not be asked for: " + e.message;
  } finally {
    v.removeAttribute("aria-busy");
  }
}

function renderVerdict(res) {
  const v = $("verdict");
  const d = res.decision;
  if (!d) {
    v.className = "error";
    v.replaceChildren(el("strong", {}, res.status === "invalid" ? "Not a valid request: " : "No decision: "), words(res));
    return;
  }
  v.className = d.allow ? "allow" : "deny";
  const parts = [el("span", { class: "tag " + (d.allow ? "allow" : "deny") }, d.allow ? "allowed" : "denied"), " "];
  parts.push(d.allow ? "You may run this." : "You may not run this.");
  if (d.explanation) parts.push(el("div", { class: "explanation" }, d.explanation));
  if (res.request && res.request.command && res.request.command !== $("command").value.trim()) {
    parts.push(el("div", { class: "muted" }, "Runs as: ", el("code", {}, res.request.command)));
  }
  parts.push(el("ul", {}, (d.reasons || []).map(reasonItem)));
  const near = d.nearMisses || [];
  if (near.length) {
    parts.push(el("div", {}, "Closest statements and what did not hold:"),
      el("ul", { class: "near-misses" }, near.map(nearMissItem)));
  }
  v.replaceChildren(...parts);
}

function reasonItem(r) {
  const who = [r.policy, r.sid].filter(Boolean).join(" / ");
  const matched = (r.matched || []).map((c) => el("li", {}, el("code", {}, c.key), " ", c.operator, ": ",
    codes(short(c.offending && c.offending.length ? c.offending : asList(c.requestValues)))));
  return el("li", {}, el("strong", {}, r.effect), who ? " " + who : "", r.detail ? ": " + r.detail : "",
    matched.length ? el("ul", {}, matched) : "");
}

// nearMissItem shows a statement that would have allowed the request
// (decision.nearMisses): each condition that did not hold, with the
// statement's values and the request's, and a Resource that did not match.
function nearMissItem(m) {
  const failed = (m.failed || []).map((f) => {
    const yours = f.offending && f.offending.length ? f.offending : f.requestValues;
    return el("li", {}, el("code", {}, f.key), " ", f.operator || "", " ", codes(short(asList(f.values))),
      " — yours: ", yours == null ? el("em", {}, "absent") : codes(short(asList(yours))));
  });
  if (m.resource) {
    failed.push(el("li", {}, (m.resource.element || "Resource") + " ", codes(short(asList(m.resource.values))),
      " — yours: ", el("code", {}, m.resource.request || "")));
  }
  return el("li", {}, [m.policy, m.sid].filter(Boolean).join(" / "), failed.length ? el("ul", {}, failed) : "");
}

// short keeps long value lists readable.
function short(list, n = 8) {
  return list.length > n ? list.slice(0, n).concat(["… " + (list.length - n) + " more"]) : list;
}

function asList(v) {
  if (v == null) return [];
  return Array.isArray(v) ? v.map(String) : [String(v)];
}

// ---- run and watch ----------------------------------------------------------

async function run(ev) {
  if (ev) ev.preventDefault();
  const req = request();
  if (!req.clusterId || !req.command.trim()) {
    $(req.clusterId ? "command" : "cluster").focus();
    return;
  }
  const btn = $("run");
  btn.disabled = true;
  const id = ++watchId;
  const started = Date.now();
  showResult({ status: "accepted", request: req }, started);
  try {
    const { status, body } = await api("POST", "/v1/commands", Object.assign({ wait: 5 }, req));
    if (body.commandId) remember(body);
    showResult(body, started);
    if (status === 202 && body.commandId) await watch(id, body.commandId, req.clusterId, started, body.request && body.request.command);
  } catch (e) {
    if (!(e instanceof SignedOut)) showError("The command could not be sent: " + e.message);
  } finally {
    btn.disabled = false;
  }
}

// watch long-polls the command until it ends (or another run starts).
async function watch(id, commandId, clusterId, started, command) {
  let failures = 0;
  while (id === watchId) {
    let res;
    try {
      res = await api("GET", "/v1/commands/" + encodeURIComponent(commandId) + "?clusterId=" + encodeURIComponent(clusterId) + "&wait=" + POLL_WAIT);
    } catch (e) {
      if (e instanceof SignedOut) return;
      if (++failures > 3) return showError("Lost contact with the gateway: " + e.message + ". Reopen the command from the recent list later.");
      await sleep(2000);
      continue;
    }
    if (id !== watchId) return;
    const body = withCommand(res.body, command);
    if (res.status >= 400) {
      showResult(Object.assign({ commandId }, body), started);
      if (!(body.error && body.error.retryable)) return;
      await sleep(retryAfter(res.headers) * 1000);
      continue;
    }
    failures = 0;
    showResult(body, started);
    remember(body);
    if (res.status !== 202) return;
  }
}

// withCommand fills in the command a GET does not repeat.
function withCommand(body, command) {
  if (command && body.request && !body.request.command) body.request = Object.assign({}, body.request, { command });
  return body;
}

function retryAfter(h) {
  const n = parseInt(h && h.get("Retry-After"), 10);
  return n > 0 && n < 60 ? n : 2;
}

function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

const STATE_WORDS = {
  succeeded: "finished", partial: "partial: some nodes failed", failed: "failed", timed_out: "timed out",
  running: "running", accepted: "starting", denied: "denied", invalid: "not valid", error: "error",
  unauthenticated: "signed out",
};

function showError(text) {
  $("result").hidden = false;
  $("result-head").replaceChildren(el("span", { class: "tag error" }, "error"), " ", text);
}

function showResult(res, started) {
  $("result").hidden = false;
  const head = [el("span", { class: "tag " + res.status, id: "overall-state" }, STATE_WORDS[res.status] || res.status)];
  if (res.commandId) head.push(" ", el("code", { id: "command-id" }, res.commandId));
  if (res.request && res.request.command) head.push(" ", el("code", {}, res.request.command));
  if (res.summary) {
    const s = res.summary;
    head.push(el("div", { class: "muted" }, `${s.nodes} node${s.nodes === 1 ? "" : "s"}: ${s.succeeded} succeeded, ${s.failed} failed, ${s.running} running`));
  }
  if (res.error && res.status !== "running") head.push(el("div", { class: "error-words" }, words(res)));
  else if (res.error) head.push(el("div", { class: "muted" }, "Still running; its results are out of reach for now: " + words(res)));
  if (res.decision && !res.decision.allow) head.push(el("ul", {}, (res.decision.reasons || []).map(reasonItem)));
  if (res.wait) head.push(el("div", { class: "muted" }, `The wait was limited to ${res.wait.allowed} s of the ${res.wait.requested} s asked (${res.wait.limitedBy === "deadline" ? "the function's deadline is " + res.wait.deadline : "the gateway's longest wait"}).`));
  if (res.requestId) head.push(el("div", { class: "muted" }, "Request id ", el("code", {}, res.requestId)));
  $("result-head").replaceChildren(...head);

  const panes = (res.results || []).map((n) => pane(n, res, started));
  if (!panes.length && (res.instanceIds || []).length) {
    for (const nid of res.instanceIds) panes.push(pane({ instanceId: nid, status: "Running", exitCode: null, output: "" }, res, started));
  }
  $("panes").replaceChildren(...panes);
  clearInterval(tick);
  if (res.status === "running" || res.status === "accepted") tick = setInterval(() => updateElapsed(started), 1000);
}

function nodeState(n) {
  switch (n.status) {
    case "Finished": return n.exitCode === 0 ? "finished" : "failed";
    case "Failed": return "failed";
    case "Stopped": return "timed_out";
    default: return "running";
  }
}

const NODE_WORDS = { finished: "finished", failed: "failed", timed_out: "timed out", running: "running" };

function pane(n, res, started) {
  const st = nodeState(n);
  const end = n.finishedAt ? Date.parse(n.finishedAt) : NaN;
  const elapsed = st === "running" ? (Date.now() - started) / 1000 : (!isNaN(end) && end > started ? (end - started) / 1000 : null);
  return el("article", { class: "pane", "data-node": n.instanceId, "data-state": st, "aria-label": "node " + n.instanceId },
    el("header", {},
      el("span", { class: "node mono" }, n.instanceId),
      el("span", { class: "tag " + st }, NODE_WORDS[st]),
      el("span", { class: "meta" },
        el("span", { class: "elapsed", "data-running": st === "running" ? "1" : "" }, elapsed != null ? elapsed.toFixed(1) + " s" : ""),
        " · exit ", el("span", { class: "exit" }, n.exitCode == null ? "—" : String(n.exitCode)))),
    el("pre", { class: "output", tabindex: "0" }, n.output || (st === "running" ? "…" : "(no output)"),
      n.truncated ? el("span", { class: "muted" }, "\n[output cut at the gateway's limit]") : ""));
}

function updateElapsed(started) {
  for (const e of document.querySelectorAll(".elapsed[data-running='1']")) {
    e.textContent = ((Date.now() - started) / 1000).toFixed(0) + " s";
  }
}

// ---- copy as curl ------------------------------------------------------------

function shellQuote(s) {
  return "'" + s.replace(/'/g, "'\\''") + "'";
}

function curlLine() {
  const body = JSON.stringify(Object.assign(request(), { wait: 10 }));
  return "curl -s -H \"Authorization: Bearer $HPCGATE_TOKEN\" -d " + shellQuote(body) + " " + location.origin + "/v1/commands";
}

async function copyCurl() {
  const line = curlLine();
  const pre = $("curl");
  pre.textContent = line;
  pre.hidden = false;
  try {
    await navigator.clipboard.writeText(line);
    pre.setAttribute("data-copied", "1");
  } catch (_) { /* shown above for copying by hand */ }
}

// ---- recent commands -----------------------------------------------------------

function recent() {
  try { return JSON.parse(localStorage.getItem(RECENT_KEY) || "[]"); } catch (_) { return []; }
}

function remember(res) {
  if (!res.commandId || !res.request) return;
  const list = recent().filter((r) => r.commandId !== res.commandId);
  const prev = recent().find((r) => r.commandId === res.commandId);
  list.unshift({ commandId: res.commandId, clusterId: res.request.clusterId || (prev && prev.clusterId),
    command: res.request.command || (prev && prev.command) || "", status: res.status, at: (prev && prev.at) || new Date().toISOString() });
  localStorage.setItem(RECENT_KEY, JSON.stringify(list.slice(0, RECENT_MAX)));
  renderRecent();
}

function renderRecent() {
  const list = recent();
  $("recent-list").replaceChildren(...(list.length ? list.map((r) => el("li", {},
    el("button", { type: "button", class: "mono", onclick: () => reopen(r.commandId, r.clusterId, r.command) }, r.commandId),
    " ", el("code", {}, r.command), " on ", r.clusterId, " ", el("span", { class: "tag " + r.status }, STATE_WORDS[r.status] || r.status),
    " ", el("span", { class: "muted" }, new Date(r.at).toLocaleString()))) : [el("li", { class: "muted" }, "None yet.")]));
}

async function reopen(commandId, clusterId, command) {
  const id = ++watchId;
  const started = Date.now();
  showResult({ status: "accepted", commandId, request: { clusterId, command } }, started);
  try {
    const { status, body } = await api("GET", "/v1/commands/" + encodeURIComponent(commandId) + "?clusterId=" + encodeURIComponent(clusterId));
    withCommand(body, command);
    showResult(Object.assign({ commandId }, body), started);
    if (body.commandId) remember(body);
    if (status === 202) await watch(id, commandId, clusterId, started, command);
  } catch (e) {
    if (!(e instanceof SignedOut)) showError("Could not read the command: " + e.message);
  }
  $("result-h").focus();
}

// ---- start -----------------------------------------------------------------------

async function start() {
  $("signin-button").addEventListener("click", signIn);
  $("signout").addEventListener("click", signOut);
  $("token-use").addEventListener("click", () => {
    const t = $("token-input").value.trim();
    if (isJWT(t)) useToken(t); else banner("That is not a JWT bearer token.");
  });
  $("form").addEventListener("submit", run);
  $("form").addEventListener("input", scheduleDryRun);
  $("command").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) run(e);
  });
  $("copy-curl").addEventListener("click", copyCurl);
  $("reopen").addEventListener("submit", (e) => {
    e.preventDefault();
    reopen($("reopen-id").value.trim(), $("reopen-cluster").value.trim(), "");
  });
  $("result-h").setAttribute("tabindex", "-1");
  renderRecent();

  try {
    config = await (await fetch("/ui/config.json")).json();
  } catch (_) {
    config = {};
  }
  const params = new URLSearchParams(location.search);
  if (params.has("code") || params.has("error")) {
    try {
      useToken(await finishSignIn(params));
    } catch (e) {
      showSignIn();
      banner("Sign-in failed: " + e.message + ".");
    }
    return;
  }
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) useToken(saved);
  else showSignIn();
}

document.addEventListener("DOMContentLoaded", start);
