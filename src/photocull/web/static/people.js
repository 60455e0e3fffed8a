// People: a card per person with the representative face, name (saved on change / Enter), role,
// counts, a link to their photos, and merging of several people into one. Each edit queues a cull job
// (names and roles weigh in the picks); a note follows it from the event stream (app.js -> bus).
import { api } from "./api.js";
import { bus, guarded, h, toast } from "./ui.js";

const ROLES = [["", "–"], ["main", "main"], ["important", "important"], ["other", "other"]];
const CULL_TEXT = {
  queued: "Your changes will update the picks (cull queued)…",
  culling: "Updating the picks for your changes…",
  done: "Picks updated for your changes.",
  failed: "Updating the picks failed",
  cancelled: "Updating the picks was cancelled.",
  interrupted: "Updating the picks was interrupted.",
};
let root, list, mergeButton, cullNote, people = [];
const cullIds = new Set(); // the cull jobs queued by edits made here
const cullSeen = new Map(); // every cull job's latest state from the events (they may beat the edit's answer)
let cullTimer = 0;

function mount(el) {
  root = el;
  mergeButton = h("button", { id: "merge", type: "button", disabled: true, onclick: merge,
                              title: "merge the selected people into one" }, "Merge selected");
  list = h("div", { id: "people" }, h("p.empty", {}, "Loading people…"));
  cullNote = h("p.hint", { id: "cull-note", role: "status", hidden: true });
  root.append(h("div.toolbar", {}, h("h1", {}, "People"), h("span.hint", {},
    "Name the people who matter; main and important people weigh in the picks."), mergeButton), cullNote, list);
  bus.addEventListener("job", onJob);
  load();
}

function unmount() { bus.removeEventListener("job", onJob); }

function onJob(e) {
  if (e.detail.kind !== "cull") return;
  cullSeen.set(e.detail.id, e.detail);
  if (cullIds.has(e.detail.id)) showCull(e.detail);
}

/** Follow the cull job an edit answered with (`cull_job`; coalesced: several edits may share one). */
function culling(job) {
  if (!job) return;
  cullIds.add(job.id);
  showCull(cullSeen.get(job.id) || job); // the answer says "queued"; an event may already have said more
}

function showCull(job) {
  if (!cullNote || !CULL_TEXT[job.state]) return;
  clearTimeout(cullTimer);
  cullNote.hidden = false;
  cullNote.dataset.state = job.state;
  cullNote.textContent = CULL_TEXT[job.state] + (job.state === "failed" && job.message ? `: ${job.message}` : "");
  if (job.state === "done") cullTimer = setTimeout(() => { cullNote.hidden = true; }, 5000);
}

async function load() {
  const data = await guarded(() => api("/api/people"), "people");
  if (!data) { list.replaceChildren(h("p.empty", {}, "People could not be loaded.")); return; }
  people = data.people;
  if (!people.length) { list.replaceChildren(h("p.empty", {}, "No faces found yet.")); return; }
  list.replaceChildren(...people.map(card));
  selectionChanged();
}

function card(p) {
  const name = h("input.name", { type: "text", value: p.name || "", placeholder: `person ${p.id}`,
                                 "aria-label": `name of person ${p.id}`, maxlength: "200" });
  // Saved on change (blur) and on Enter; Enter then blurs, which must not save a second time.
  let saved = p.name || "";
  const saveName = async () => {
    const value = name.value.trim();
    if (value === saved) return;
    saved = value;
    const row = await guarded(() => api(`/api/people/${p.id}`, { method: "PATCH", body: { name: value || null } }),
                              "name not saved");
    if (row) { Object.assign(p, row); culling(row.cull_job); toast(value ? `named ${value}` : "name cleared"); }
    else saved = null; // let the next change try again
  };
  name.addEventListener("change", saveName);
  name.addEventListener("keydown", (e) => { if (e.key === "Enter") { saveName(); name.blur(); } });
  const role = h("select.role", { "aria-label": `role of person ${p.id}` },
    ROLES.map(([v, text]) => h("option", { value: v, selected: (p.role || "") === v }, text)));
  role.addEventListener("change", async () => {
    if (!role.value) return;
    const row = await guarded(() => api(`/api/people/${p.id}`, { method: "PATCH", body: { role: role.value } }),
                              "role not saved");
    if (row) { Object.assign(p, row); culling(row.cull_job); toast("saved"); }
  });
  const check = h("input.merge-select", { type: "checkbox", "aria-label": `select person ${p.id} to merge`,
                                          onchange: selectionChanged });
  return h("div.person", { dataset: { id: p.id } },
    p.face ? h("img.face", { src: p.face.url, alt: p.name || `person ${p.id}`, loading: "lazy", width: 160, height: 160 })
           : h("div.face.none", {}, "no face"),
    h("label.select", {}, check, " select"),
    name,
    h("label.role-label", {}, "Role ", role),
    h("div.counts", {}, `${p.faces} face${p.faces === 1 ? "" : "s"} · ${p.photos} photo${p.photos === 1 ? "" : "s"}`,
      p.confirmed ? ` · ${p.confirmed} confirmed` : ""),
    h("a.photos-link", { href: `#/gallery?person=${p.id}` }, "Show photos →"));
}

function selected() {
  return [...list.querySelectorAll(".person")].filter((el) => el.querySelector(".merge-select").checked)
    .map((el) => people.find((p) => String(p.id) === el.dataset.id));
}

function selectionChanged() {
  const n = selected().length;
  mergeButton.disabled = n < 2;
  mergeButton.textContent = n >= 2 ? `Merge ${n} people` : "Merge selected";
}

async function merge() {
  const chosen = selected();
  if (chosen.length < 2) { toast("select two people or more to merge"); return; }
  // Keep the first one with a name (the name is the work to keep), else the first selected.
  const keep = chosen.find((p) => p.name) || chosen[0];
  const others = chosen.filter((p) => p !== keep);
  const label = (p) => p.name || `person ${p.id}`;
  if (!confirm(`Merge ${others.map(label).join(", ")} into ${label(keep)}?`)) return;
  const answer = await guarded(() => api("/api/people/merge", { method: "POST",
    body: { keep: keep.id, others: others.map((p) => p.id) } }), "merge failed");
  if (answer) { culling(answer.cull_job); toast(`merged into ${label(keep)}`); load(); }
}

export default { mount, unmount, refresh: load, help: [["Enter", "save a name"]] };
