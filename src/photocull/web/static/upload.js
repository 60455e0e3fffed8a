// Upload: files, folders and ZIPs by drop or pickers, each sent with tus (resumable, in 8 MiB
// chunks; the vendored tus-js-client defines the global `tus`), 3 at a time. The files of one drop
// form a batch; when all are sent, POST /api/uploads/<batch>/finish moves them into the library and
// starts a scan job. Below: the jobs, live from the event stream (app.js -> bus).
import { api } from "./api.js";
import { bus, guarded, h, toast, formatBytes, fill } from "./ui.js";

const PARALLEL = 3;
const CHUNK = 8 * 1024 * 1024;
// The batch of an upload cut short (tab closed, reload): the same files dropped again resume into it,
// so that the batch's finish sees them all. Cleared once the batch is finished.
const BATCH_KEY = "photocull.upload.batch";

let root, jobsEl, progress, summary, fileList;
let queue = [], items = [], running = 0, batch = null;
const jobs = new Map();

const randomHex = (n) => [...crypto.getRandomValues(new Uint8Array(n / 2))]
  .map((b) => b.toString(16).padStart(2, "0")).join("");

function mount(el) {
  const files = h("input", { id: "upload-files", type: "file", multiple: true, class: "visually-hidden",
                             onchange: (e) => { add([...e.target.files].map((f) => ({ file: f, rel: f.name }))); e.target.value = ""; } });
  const folder = h("input", { id: "upload-folder", type: "file", multiple: true, class: "visually-hidden",
                              onchange: (e) => { add([...e.target.files].map((f) => ({ file: f, rel: f.webkitRelativePath || f.name }))); e.target.value = ""; } });
  folder.webkitdirectory = true;
  folder.setAttribute("webkitdirectory", "");
  const zone = h("div", { id: "dropzone", tabindex: "0", "aria-label": "drop photos, folders or ZIP files here" },
    h("p.big", {}, "Drop photos, folders or ZIPs here"),
    h("p", {}, h("label.button", {}, files, "Choose files"), " ", h("label.button", {}, folder, "Choose a folder")),
    h("p.hint", {}, "Large uploads are sent in pieces and resume after a dropped connection or a reload (drop the same files again)."));
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", onDrop);
  zone.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { files.click(); e.preventDefault(); } });
  progress = h("progress", { id: "upload-progress", max: 100, value: 0 });
  summary = h("span.upload-summary", {}, "");
  fileList = h("ul.upload-files");
  jobsEl = h("div", { id: "jobs", "aria-live": "polite" });
  root = h("section.upload", {}, h("h1", {}, "Upload"), zone,
    h("div.progress-line", {}, progress, summary), fileList,
    h("div.toolbar", {}, h("h2", {}, "Jobs"),
      h("button", { id: "rescan", type: "button", onclick: rescan, title: "scan the whole library folder again" }, "Rescan library")),
    jobsEl);
  el.append(root);
  for (const item of items) fileList.append(item.row); // uploads still going from an earlier visit
  showProgress();
  bus.addEventListener("job", onJobEvent);
  window.addEventListener("dragover", preventOpen);
  window.addEventListener("drop", preventOpen);
  loadJobs();
}

function unmount() {
  // Uploads in flight go on in the background; their rows come back on the next visit.
  bus.removeEventListener("job", onJobEvent);
  window.removeEventListener("dragover", preventOpen);
  window.removeEventListener("drop", preventOpen);
}

// A file dropped beside the zone would make the browser open it and leave the app.
function preventOpen(e) { if (!e.target.closest || !e.target.closest("#dropzone")) e.preventDefault(); }

async function onDrop(e) {
  e.preventDefault();
  e.currentTarget.classList.remove("over");
  // The entries must be taken now: the DataTransfer is emptied once the event handler returns.
  const entries = [...(e.dataTransfer.items || [])].map((it) => it.webkitGetAsEntry && it.webkitGetAsEntry()).filter(Boolean);
  if (!entries.length) { add([...e.dataTransfer.files].map((f) => ({ file: f, rel: f.name }))); return; }
  const found = [];
  for (const entry of entries) await walk(entry, found);
  add(found);
}

/** Every file under a dropped entry, with its path relative to the drop. */
async function walk(entry, out) {
  if (entry.isFile) {
    const file = await new Promise((resolve, reject) => entry.file(resolve, reject)).catch(() => null);
    if (file) out.push({ file, rel: entry.fullPath.replace(/^\/+/, "") });
  } else if (entry.isDirectory) {
    const reader = entry.createReader();
    // readEntries answers in slices (100 in Chrome) until an empty one.
    for (;;) {
      const slice = await new Promise((resolve, reject) => reader.readEntries(resolve, reject)).catch(() => []);
      if (!slice.length) break;
      for (const child of slice) await walk(child, out);
    }
  }
}

function add(found) {
  // Hidden files (.DS_Store, ._x from macOS) are never photos.
  const wanted = found.filter(({ file, rel }) => !file.name.startsWith(".") && !rel.split("/").some((p) => p.startsWith(".")));
  if (!wanted.length) { toast("nothing to upload"); return; }
  if (!window.tus || !tus.isSupported) { toast("uploads need a browser with XHR and Blob support", "error"); return; }
  if (!batch) {
    batch = localStorage.getItem(BATCH_KEY) || randomHex(16);
    localStorage.setItem(BATCH_KEY, batch);
  }
  for (const { file, rel } of wanted) {
    const item = { file, rel, sent: 0, state: "queued", error: null, row: h("li", {}) };
    items.push(item);
    queue.push(item);
    fileList.append(item.row);
    showItem(item);
  }
  showProgress();
  pump();
}

function pump() {
  while (running < PARALLEL && queue.length) {
    const item = queue.shift();
    running++;
    send(item).finally(() => { running--; showProgress(); pump(); if (!running && !queue.length) finish(); });
  }
}

function send(item) {
  item.state = "uploading";
  showItem(item);
  return new Promise((resolve) => {
    const upload = new tus.Upload(item.file, {
      endpoint: "/uploads/",
      headers: { "X-Photocull": "1" },
      metadata: { filename: item.file.name, relativePath: item.rel, batch },
      chunkSize: CHUNK,
      retryDelays: [0, 1000, 3000, 5000, 10000],
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: true,
      onProgress: (sent) => { item.sent = sent; showProgressSoon(); },
      onSuccess: () => { item.sent = item.file.size; item.state = "done"; showItem(item); resolve(); },
      onError: (err) => { item.state = "error"; item.error = reason(err); showItem(item); resolve(); },
    });
    upload.findPreviousUploads()
      .then((previous) => { if (previous.length) upload.resumeFromPreviousUpload(previous[0]); })
      .catch(() => {})
      .finally(() => upload.start());
  });
}

/** The server's reason for a refusal (413 too large, 415 not a photo, 507 no room), else the error. */
function reason(err) {
  const response = err.originalResponse;
  if (!response) return err.message || String(err);
  let body = response.getBody() || "";
  try { const parsed = JSON.parse(body); body = parsed.detail || body; } catch { /* plain text */ }
  return `${response.getStatus()}: ${typeof body === "string" ? body : JSON.stringify(body)}`.slice(0, 300);
}

async function finish() {
  const done = items.filter((i) => i.state === "done").length;
  const current = batch;
  batch = null;
  if (!done) { summary.textContent = "nothing uploaded"; localStorage.removeItem(BATCH_KEY); return; }
  summary.textContent = "starting the scan…";
  const answer = await guarded(() => api(`/api/uploads/${current}/finish`, { method: "POST", body: {} }), "finish failed");
  if (!answer) { summary.textContent = "uploaded, but the scan did not start: drop the files again to retry"; batch = null; return; }
  localStorage.removeItem(BATCH_KEY);
  const refused = answer.refused || [];
  summary.textContent = `${(answer.accepted || []).length} accepted${refused.length ? `, ${refused.length} refused` : ""}; scanning`;
  summary.dataset.job = answer.job ? answer.job.id : "";
  for (const r of refused) fileList.append(h("li.error", {}, `${r.name}: ${r.reason}`));
  if (answer.job) upsertJob(answer.job);
  items = items.filter((i) => i.state === "error"); // keep the failures in view, forget the rest
}

function showItem(item) {
  const pct = item.file.size ? Math.floor((100 * item.sent) / item.file.size) : 100;
  item.row.className = item.state;
  fill(item.row, h("span.name", {}, item.rel), " ",
    h("span.state", {}, item.state === "uploading" ? `${pct}%` : item.state), " ",
    h("span.size", {}, formatBytes(item.file.size)),
    item.error ? h("span.error", {}, ` — ${item.error}`) : null);
}

let progressFrame = 0;
function showProgressSoon() {
  if (!progressFrame) progressFrame = requestAnimationFrame(() => { progressFrame = 0; showProgress(); });
}

function showProgress() {
  if (!progress) return;
  const size = items.reduce((s, i) => s + i.file.size, 0);
  const sent = items.reduce((s, i) => s + (i.state === "error" ? i.file.size : i.sent), 0);
  progress.value = size ? Math.floor((100 * sent) / size) : 0;
  for (const i of items) if (i.state === "uploading") showItem(i);
  const counts = { done: 0, error: 0, uploading: 0, queued: 0 };
  for (const i of items) counts[i.state]++;
  if (items.length && (counts.uploading || counts.queued)) {
    summary.textContent = `${counts.done} of ${items.length} sent (${formatBytes(sent)} of ${formatBytes(size)})` +
      (counts.error ? `, ${counts.error} failed` : "");
  }
}

// -- jobs -----------------------------------------------------------------------
const ACTIVE = ["queued", "running", "culling"];
const RESUMABLE = ["cancelled", "interrupted", "failed"];
const FINAL_STATES = ["done", ...RESUMABLE];

async function loadJobs() {
  const data = await guarded(() => api("/api/jobs"), "jobs");
  if (!data) { jobsEl.replaceChildren(h("p.empty", {}, "Jobs could not be loaded.")); return; }
  jobsEl.replaceChildren();
  for (const job of data.jobs.slice().reverse()) upsertJob(job); // oldest first: each new one goes on top
  if (!data.jobs.length) jobsEl.append(h("p.empty", {}, "No jobs yet."));
}

function onJobEvent(e) { upsertJob(e.detail); }

function upsertJob(job) {
  jobs.set(job.id, job);
  if (summary && summary.dataset.job === String(job.id) && FINAL_STATES.includes(job.state)) {
    summary.textContent = summary.textContent.replace(/; scanning$/, `; scan ${job.state}`);
  }
  if (!jobsEl) return;
  jobsEl.querySelector(".empty")?.remove();
  const el = renderJob(job);
  const old = jobsEl.querySelector(`.job[data-id="${CSS.escape(String(job.id))}"]`);
  if (old) old.replaceWith(el); else jobsEl.prepend(el);
}

function renderJob(job) {
  const pct = job.total ? Math.floor((100 * job.done) / job.total) : null;
  const inputs = (job.inputs || []).join(", ");
  const bar = h("progress", { max: 100, "aria-label": `job ${job.id} progress` });
  if (pct !== null) bar.value = job.state === "done" ? 100 : pct;
  else if (job.state === "done") bar.value = 100;
  const report = job.report && typeof job.report === "object"
    ? Object.entries(job.report).filter(([k, v]) => typeof v !== "object" && k !== "catalog")
      .map(([k, v]) => `${k.replace(/_/g, " ")} ${typeof v === "number" && !Number.isInteger(v) ? v.toFixed(1) : v}`).join(" · ") : "";
  return h("div.job", { dataset: { id: job.id, state: job.state } },
    h("div.job-head", {}, h("strong", {}, `${job.kind || "scan"} #${job.id}`), " ",
      h("span.state", { dataset: { state: job.state } }, job.state),
      job.total ? h("span.count", {}, ` ${job.done} / ${job.total}`) : null,
      ACTIVE.includes(job.state) ? h("button.cancel", { type: "button", onclick: () => jobAction(job, "cancel") }, "Cancel") : null,
      RESUMABLE.includes(job.state) ? h("button.resume", { type: "button", onclick: () => jobAction(job, "resume") }, "Resume") : null),
    bar,
    job.message ? h("div.message", {}, job.message) : null,
    inputs ? h("div.inputs", {}, inputs) : null,
    report ? h("div.report", {}, report) : null);
}

async function jobAction(job, action) {
  const answer = await guarded(() => api(`/api/jobs/${job.id}/${action}`, { method: "POST", body: {} }), `${action} failed`);
  if (answer) { upsertJob(answer); toast(action === "cancel" ? "cancelling" : "resumed"); }
}

async function rescan() {
  const job = await guarded(() => api("/api/jobs", { method: "POST", body: {} }), "rescan failed");
  if (job) { upsertJob(job); toast("scan started"); }
}

export default { mount, unmount, refresh: loadJobs, help: [] };
