// Kiln's status page: the fleet (GET /) or one app (GET /app/NAME), kept
// up to date by polling the JSON API. Every value comes from AWS or git and
// may be anything: it is only ever written as text (textContent), never as
// markup.
"use strict";

const POLL_MS = 2000;
const appName = location.pathname.startsWith("/app/")
  ? decodeURIComponent(location.pathname.slice(5)) : null;

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

// A value as text: strings as they are, structures (tags) as JSON.
function show(v) {
  if (v === null || v === undefined) return "—";
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}

function cell(label, content, cls) {
  const td = el("td", null, cls);
  td.dataset.label = label;
  if (content instanceof Node) td.appendChild(content);
  else td.textContent = show(content);
  return td;
}

function statusBadge(status) {
  return el("span", status, "status s-" + String(status).replace(/[^a-z-]/g, ""));
}

function releaseText(app) {
  const r = app.release || {};
  if (r.state && r.state !== "none") {
    let text = r.summary || r.state;
    if (r.cause && !String(text).includes(r.cause)) text += " — " + r.cause;
    return text;
  }
  return app.message || "";
}

function appLink(app) {
  const a = el("a", app.name);
  a.href = "/app/" + String(app.name).split("/").map(encodeURIComponent).join("/");
  return a;
}

function summarize(doc) {
  const counts = {};
  for (const a of doc.apps || []) counts[a.status] = (counts[a.status] || 0) + 1;
  document.getElementById("summary").textContent =
    (doc.apps || []).length + " app(s) at commit " + String(doc.commit || "?").slice(0, 12) + ": " +
    Object.entries(counts).map(([s, n]) => n + " " + s).join(", ");
}

function renderFleet(doc) {
  const body = document.querySelector("#apps tbody");
  const rows = (doc.apps || []).map(app => {
    const tr = el("tr");
    tr.dataset.app = app.name;
    tr.appendChild(cell("App", appLink(app)));
    tr.appendChild(cell("Status", statusBadge(app.status)));
    tr.appendChild(cell("Version", app.version));
    tr.appendChild(cell("AMI", app.running_ami || app.ami, "mono"));
    tr.appendChild(cell("Release", releaseText(app), "release"));
    tr.appendChild(cell("Drift", (app.drift || []).length ? (app.drift || []).length + " field(s)" : "none"));
    return tr;
  });
  body.replaceChildren(...rows);
}

function fact(dl, name, value) {
  dl.appendChild(el("dt", name));
  dl.appendChild(el("dd", show(value)));
}

function renderApp(doc) {
  const app = (doc.apps || []).find(a => a.name === appName);
  document.getElementById("app-name").textContent = appName;
  const dl = document.getElementById("app-facts");
  dl.replaceChildren();
  if (!app) {
    fact(dl, "Status", "no such app at this commit");
    return;
  }
  const st = el("dd");
  st.appendChild(statusBadge(app.status));
  dl.appendChild(el("dt", "Status"));
  dl.appendChild(st);
  fact(dl, "Environment", app.environment);
  fact(dl, "Version", app.version);
  fact(dl, "AMI running", app.running_ami);
  fact(dl, "AMI of git's image", app.ami);
  fact(dl, "Release", releaseText(app));
  fact(dl, "Next step", app.message);
  const drift = app.drift || [];
  document.querySelector("#drift tbody").replaceChildren(...drift.map(d => {
    const tr = el("tr");
    tr.appendChild(cell("Field", d.field, "mono"));
    tr.appendChild(cell("Desired", d.desired));
    tr.appendChild(cell("Actual", d.actual));
    tr.appendChild(cell("Cause", d.cause, "cause-" + String(d.cause).replace(/[^a-z-]/g, "")));
    return tr;
  }));
  document.getElementById("drift").hidden = drift.length === 0;
  document.getElementById("no-drift").hidden = drift.length !== 0;
}

function when(ms) {
  return ms ? new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z").replace("T", " ") : null;
}

function renderHistory(doc) {
  const rows = (doc.releases || []).map(r => {
    const tr = el("tr");
    tr.appendChild(cell("Started", when(r.started_at_ms)));
    tr.appendChild(cell("Commit", String(r.commit || "").slice(0, 12), "mono"));
    tr.appendChild(cell("AMI", r.ami, "mono"));
    tr.appendChild(cell("Version", r.launch_template_version));
    tr.appendChild(cell("Outcome", r.outcome));
    tr.appendChild(cell("Reason", r.reason));
    return tr;
  });
  document.querySelector("#history tbody").replaceChildren(...rows);
  document.getElementById("history").hidden = rows.length === 0;
  document.getElementById("no-history").hidden = rows.length !== 0;
  const drift = (doc.drift || []).map(d => {
    const tr = el("tr");
    tr.appendChild(cell("Seen", when(d.observed_at_ms)));
    tr.appendChild(cell("Field", d.field, "mono"));
    tr.appendChild(cell("Desired", d.desired));
    tr.appendChild(cell("Actual", d.actual));
    tr.appendChild(cell("Cause", d.cause, "cause-" + String(d.cause).replace(/[^a-z-]/g, "")));
    return tr;
  });
  document.querySelector("#drift-history tbody").replaceChildren(...drift);
  document.getElementById("drift-history").hidden = drift.length === 0;
  document.getElementById("no-drift-history").hidden = drift.length !== 0;
}

function showError(text) {
  const e = document.getElementById("error");
  e.hidden = !text;
  e.textContent = text || "";
}

async function getJSON(path) {
  const res = await fetch(path, { headers: { Accept: "application/json" }, cache: "no-store" });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error((body && body.error) || res.status + " " + res.statusText);
  return body;
}

async function refresh() {
  try {
    const doc = await getJSON("/api/v1/apps");
    showError(doc.error ? "AWS could not be observed: " + doc.error : "");
    summarize(doc);
    if (appName === null) renderFleet(doc);
    else {
      renderApp(doc);
      renderHistory(await getJSON("/api/v1/history?app=" + encodeURIComponent(appName) + "&limit=50"));
    }
    document.getElementById("updated").textContent = new Date().toLocaleTimeString();
  } catch (e) {
    showError("Kiln's API: " + e.message);
  } finally {
    setTimeout(refresh, POLL_MS);
  }
}

document.getElementById("fleet").hidden = appName !== null;
document.getElementById("app").hidden = appName === null;
if (appName !== null) document.title = appName + " — Kiln";
refresh();
