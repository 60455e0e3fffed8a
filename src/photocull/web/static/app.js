// The page shell: hash router, nav, toast (#status), help overlay, keyboard dispatch and the live
// event stream (jobs, reload). Each page is a module with mount(root, route) and optional
// update(route), unmount(), onKey(event), refresh(), and a `help` list of [key, what].
import gallery from "./gallery.js";
import review from "./review.js";
import people from "./people.js";
import slideshow from "./slideshow.js";
import stats from "./stats.js";
import exportPage from "./export.js";
import upload from "./upload.js";
import { bus, toast } from "./ui.js";

const pages = { gallery, review, people, slideshow, stats, export: exportPage, upload };
const view = document.getElementById("view");
const help = document.getElementById("help");

let current = null; // {name, page}

function parseRoute() {
  const hash = location.hash.replace(/^#\/?/, "");
  const [pathPart, queryPart = ""] = hash.split("?");
  const parts = pathPart.split("/").filter(Boolean).map(decodeURIComponent);
  const name = pages[parts[0]] ? parts[0] : "gallery";
  return { name, args: parts.slice(1), params: new URLSearchParams(queryPart) };
}

function route() {
  const r = parseRoute();
  for (const a of document.querySelectorAll("nav a[data-page]")) {
    a.classList.toggle("active", a.dataset.page === r.name);
    if (a.dataset.page === r.name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  document.body.dataset.page = r.name;
  if (current && current.name === r.name && current.page.update) {
    current.page.update(r);
    return;
  }
  if (current && current.page.unmount) current.page.unmount();
  view.replaceChildren();
  current = { name: r.name, page: pages[r.name] };
  document.title = `photocull · ${r.name}`;
  current.page.mount(view, r);
}

// -- help overlay ---------------------------------------------------------------
const GLOBAL_KEYS = [["?", "this help"], ["g then g/r/p/s", "gallery / review / people / slideshow"]];

function showHelp(show) {
  if (show) {
    const dl = document.getElementById("help-keys");
    dl.replaceChildren();
    for (const [key, what] of [...(current.page.help || []), ...GLOBAL_KEYS]) {
      const dt = document.createElement("dt");
      dt.innerHTML = key.split(" ").map((k) => (k.length <= 10 && k !== "then" ? `<kbd>${k}</kbd>` : k)).join(" ");
      const dd = document.createElement("dd");
      dd.textContent = what;
      dl.append(dt, dd);
    }
    help.hidden = false;
    help.querySelector(".close-help").focus();
  } else {
    help.hidden = true;
  }
}
document.getElementById("help-button").addEventListener("click", () => showHelp(help.hidden));
help.addEventListener("click", (e) => {
  if (e.target === help || e.target.closest(".close-help")) showHelp(false);
});

// -- keyboard -------------------------------------------------------------------
let goPrefix = false;
document.addEventListener("keydown", (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const t = e.target;
  // Typing in a field is typing, not a shortcut (Escape still leaves the field).
  if (t && (t.isContentEditable || /^(INPUT|SELECT|TEXTAREA)$/.test(t.tagName))) {
    if (e.key === "Escape") t.blur();
    return;
  }
  if (!help.hidden) {
    if (e.key === "Escape" || e.key === "?") { showHelp(false); e.preventDefault(); }
    return;
  }
  if (e.key === "?") { showHelp(true); e.preventDefault(); return; }
  if (goPrefix) {
    goPrefix = false;
    const target = { g: "gallery", r: "review", p: "people", s: "slideshow" }[e.key.toLowerCase()];
    if (target) { location.hash = `#/${target}`; e.preventDefault(); return; }
  }
  if (current && current.page.onKey && current.page.onKey(e)) { e.preventDefault(); return; }
  if (e.key === "g" && current && current.name !== "slideshow") goPrefix = true;
});

// -- live events ----------------------------------------------------------------
const indicator = document.getElementById("job-indicator");
const jobs = new Map();

function showIndicator() {
  const active = [...jobs.values()].filter((j) => ["queued", "running", "culling"].includes(j.state));
  indicator.hidden = active.length === 0;
  if (active.length) {
    const j = active[0];
    indicator.textContent = j.state === "running" && j.total ? `scanning ${j.done}/${j.total}` : j.state;
  }
}

function connectEvents() {
  if (!window.EventSource) return;
  const source = new EventSource("/api/events");
  source.addEventListener("job", (e) => {
    let job;
    try { job = JSON.parse(e.data); } catch { return; }
    jobs.set(job.id, job);
    showIndicator();
    bus.dispatchEvent(new CustomEvent("job", { detail: job }));
  });
  source.addEventListener("reload", () => {
    bus.dispatchEvent(new CustomEvent("reload"));
    if (current && current.page.refresh) current.page.refresh();
    toast("library updated");
  });
  // The browser reconnects by itself after a dropped stream; a route that answers an error closes it
  // for good, so try again later (a server restart, an older server without the route).
  source.addEventListener("error", () => {
    if (source.readyState === EventSource.CLOSED) setTimeout(connectEvents, 15000);
  });
}

window.addEventListener("hashchange", route);
route();
connectEvents();
