// The gallery: a virtual grid. Only the rows on screen (and a few around them) are in the DOM, and
// photos are fetched in pages of 100 by offset as they scroll into view, so 100,000 photos cost the
// same as 100. Cards have a fixed size per layout, which is what makes the positions computable.
import { api, query } from "./api.js";
import { decide, undo, flagOf, stars, valuesForKey } from "./decisions.js";
import { guarded, h, previewUrl, scoreColour, toast } from "./ui.js";
import { Viewer } from "./viewer.js";

const PAGE = 100;
const MIN_CARD = 180;   // px, the narrowest card before a column is dropped
const PHONE_CARD = 150; // narrower cards on small screens: two columns on a phone
const GAP = 8;
const META = 40;        // px under the image: score bar and the line of stars and badges
const OVERSCAN = 3;     // rows rendered above and below the visible ones
const MAX_PAGES = 30;   // pages of photos kept (3,000 photos): the farthest from the view are dropped

const FILTERS = [["", "all photos"], ["best", "best of each group"], ["kept", "kept"], ["rejected", "rejected"],
  ["undecided", "undecided"], ["blurry", "blurry"], ["eyes_closed", "eyes closed"], ["duplicates", "duplicates"]];
const KIND_BADGE = { duplicates: "dup", duplicate: "dup", near_duplicates: "near", near_duplicate: "near" };

let root, grid, totalEl, viewer;
let state = { sort: "score", filter: "", person: "", min_rating: "" };
let pages = new Map();   // page number -> photos
let pending = new Set(); // page numbers being fetched
let total = null;
let generation = 0;      // bumped on every reset: answers for an older view are dropped
let layout = { cols: 1, cardW: MIN_CARD, rowH: MIN_CARD };
let rendered = new Map(); // index -> element
let cursor = -1;          // keyboard position in the grid
let frame = 0;
let viewPage = 0;         // the page of the first card rendered
let resizeObserver = null;

const photoAt = (i) => { const p = pages.get(Math.floor(i / PAGE)); return p ? p[i % PAGE] : undefined; };

function paramsFrom(route) {
  const p = route.params;
  return { sort: p.get("sort") || "score", filter: p.get("filter") || "", person: p.get("person") || "",
           min_rating: p.get("min_rating") || "" };
}

function select(id, label, options, value) {
  return h("label", {}, h("span.label", {}, label),
    h("select", { id, onchange: onToolbar },
      options.map(([v, text]) => h("option", { value: v, selected: String(v) === String(value) }, text))));
}

function mount(el, route) {
  root = el;
  state = paramsFrom(route);
  totalEl = h("span", { id: "gallery-total", "aria-live": "polite" }, "…");
  grid = h("div", { id: "gallery", "aria-label": "photos" });
  const toolbar = h("div.toolbar", {},
    select("sort", "Sort", [["score", "best first"], ["time", "oldest first"], ["name", "by name"]], state.sort),
    select("filter", "Show", FILTERS, state.filter),
    select("person-filter", "Person", [["", "anyone"]], state.person),
    select("min-rating", "Rating", [["", "any"], ...[1, 2, 3, 4, 5].map((n) => [n, `${"★".repeat(n)} +`])],
           state.min_rating),
    totalEl);
  viewer = new Viewer({ photoAt: loadPhoto, count: () => total || 0, onDecision: updatePhoto,
                        onClose: (i) => setCursor(i, true) });
  root.append(toolbar, grid, viewer.el);
  grid.addEventListener("click", (e) => {
    const card = e.target.closest(".card[data-path]");
    if (card) { setCursor(Number(card.dataset.index)); viewer.open(Number(card.dataset.index)); }
  });
  window.addEventListener("scroll", schedule, { passive: true });
  resizeObserver = new ResizeObserver(() => { measure(); schedule(); });
  resizeObserver.observe(grid);
  loadPeople();
  reset();
}

function unmount() {
  window.removeEventListener("scroll", schedule);
  if (resizeObserver) resizeObserver.disconnect();
  viewer.close();
  generation++;
}

function update(route) {
  const next = paramsFrom(route);
  if (JSON.stringify(next) === JSON.stringify(state)) return;
  state = next;
  for (const [id, key] of [["sort", "sort"], ["filter", "filter"], ["person-filter", "person"], ["min-rating", "min_rating"]]) {
    root.querySelector(`#${id}`).value = state[key];
  }
  reset();
}

async function loadPeople() {
  const data = await guarded(() => api("/api/people"), "people");
  const sel = root.querySelector("#person-filter");
  if (!data || !sel) return;  // the page was left (or rebuilt) while the list was on its way
  for (const p of data.people) {
    sel.append(h("option", { value: p.id }, p.name || `person ${p.id}`));
  }
  sel.value = state.person;
}

function onToolbar() {
  state = { sort: root.querySelector("#sort").value, filter: root.querySelector("#filter").value,
            person: root.querySelector("#person-filter").value, min_rating: root.querySelector("#min-rating").value };
  // Keep the filters in the address (shareable, survives a reload) without a route change.
  history.replaceState(null, "", `#/gallery${query(state)}`);
  reset();
}

/** Start over with the current filters: forget the pages, back to the top. */
function reset() {
  generation++;
  pages = new Map();
  pending = new Set();
  total = null;
  cursor = -1;
  for (const el of rendered.values()) drop(el);
  rendered.clear();
  totalEl.textContent = "…";
  window.scrollTo(0, 0);
  fetchPage(0);
}

/** Fetch again what is shown (after a scan added photos), keeping the scroll position. */
function refresh() {
  generation++;
  pages = new Map();
  pending = new Set();
  fetchPage(0);
  schedule();
}

async function fetchPage(n) {
  if (pages.has(n) || pending.has(n)) return;
  pending.add(n);
  const mine = generation;
  try {
    const data = await api(`/api/photos${query({ offset: n * PAGE, limit: PAGE, ...state })}`);
    if (mine !== generation) return;
    pages.set(n, data.photos);
    trimPages(n);
    if (data.total !== total) {
      total = data.total;
      totalEl.textContent = `${total.toLocaleString()} photo${total === 1 ? "" : "s"}`;
      totalEl.dataset.total = total;
      measure();
    }
    schedule();
  } catch (err) {
    if (mine === generation) {
      toast(`photos: ${err.message}`, "error");
      if (total === null) totalEl.textContent = "–";
    }
  } finally {
    if (mine === generation) pending.delete(n);
  }
}

/** The photo at index i, fetching its page when needed (for the large view). */
async function loadPhoto(i) {
  if (i < 0 || (total !== null && i >= total)) return undefined;
  if (!photoAt(i)) {
    const n = Math.floor(i / PAGE);
    pending.delete(n);
    await fetchPage(n);
  }
  return photoAt(i);
}

/** Keep at most MAX_PAGES pages (memory stays bounded however far one scrolls): drop the farthest from
 * the view, never the page just fetched nor the cursor's. A dropped page is fetched again when needed. */
function trimPages(keep) {
  if (pages.size <= MAX_PAGES) return;
  const cursorPage = cursor < 0 ? -1 : Math.floor(cursor / PAGE);
  const far = [...pages.keys()].filter((n) => n !== keep && n !== cursorPage)
    .sort((a, b) => Math.abs(b - viewPage) - Math.abs(a - viewPage));
  for (const n of far.slice(0, pages.size - MAX_PAGES)) pages.delete(n);
}

/** A card leaves the DOM: stop its thumbnail's download if still under way. It would hold one of the
 * browser's six connections to the server ahead of the cards now on screen (and of the next page). */
function drop(el) {
  el.remove();
  const img = el.querySelector("img");
  if (img && !img.complete) img.removeAttribute("src");
}

function measure() {
  const width = grid.clientWidth || window.innerWidth;
  const min = window.innerWidth < 600 ? PHONE_CARD : MIN_CARD;
  const cols = Math.max(1, Math.floor((width + GAP) / (min + GAP)));
  const cardW = (width - GAP * (cols - 1)) / cols;
  const rowH = Math.round(cardW * 0.75) + META + GAP;
  const changed = cols !== layout.cols || Math.abs(cardW - layout.cardW) > 0.5;
  layout = { cols, cardW, rowH };
  const rows = Math.ceil((total || 0) / cols);
  grid.style.height = `${Math.max(0, rows * rowH - GAP)}px`;
  grid.style.setProperty("--card-w", `${cardW}px`);
  grid.style.setProperty("--img-h", `${Math.round(cardW * 0.75)}px`);
  if (changed) for (const [i, el] of rendered) place(el, i);
}

function schedule() {
  if (!frame) frame = requestAnimationFrame(() => { frame = 0; render(); });
}

function place(el, i) {
  const col = i % layout.cols, row = Math.floor(i / layout.cols);
  el.style.transform = `translate(${Math.round(col * (layout.cardW + GAP))}px, ${row * layout.rowH}px)`;
}

function render() {
  if (!grid || !grid.isConnected || total === null) return;
  const top = grid.getBoundingClientRect().top;
  const { cols, rowH } = layout;
  const firstRow = Math.max(0, Math.floor(-top / rowH) - OVERSCAN);
  const lastRow = Math.floor((window.innerHeight - top) / rowH) + OVERSCAN;
  const start = firstRow * cols;
  const end = Math.min(total, (lastRow + 1) * cols);
  // Thumbnails of the rows on screen load at once; those of the rows around them lazily.
  const shownFirst = Math.floor(-top / rowH) * cols, shownEnd = (Math.floor((window.innerHeight - top) / rowH) + 1) * cols;
  viewPage = Math.floor(start / PAGE);
  for (const [i, el] of rendered) {
    if (i < start || i >= end) { drop(el); rendered.delete(i); }
  }
  for (let i = start; i < end; i++) {
    const photo = photoAt(i);
    const el = rendered.get(i);
    if (el && (photo ? el.dataset.path === photo.path : !el.dataset.path)) continue;
    const card = photo ? makeCard(photo, i, i >= shownFirst && i < shownEnd)
                       : h("div.card.placeholder", { dataset: { index: i } });
    place(card, i);
    if (el) el.replaceWith(card); else grid.append(card);
    rendered.set(i, card);
    if (!photo) fetchPage(Math.floor(i / PAGE));
  }
}

function makeCard(photo, i, eager = false) {
  const d = photo.decision || {};
  const badges = [];
  if (photo.flags?.blurry) badges.push(h("span.badge.bad", { title: "blurry" }, "blur"));
  if (photo.flags?.eyes_closed) badges.push(h("span.badge.bad", { title: "eyes closed" }, "eyes"));
  if (photo.flags?.badly_exposed) badges.push(h("span.badge.bad", { title: "badly exposed" }, "exp"));
  if (photo.group_kind) {
    badges.push(h("span.badge", { title: `${photo.group_kind.replace(/_/g, " ")} group ${photo.group}, rank ${photo.group_rank}` },
      `${KIND_BADGE[photo.group_kind] || photo.group_kind.replace(/_/g, " ")}${photo.group_rank === 1 ? " ★" : ""}`));
  }
  const score = photo.score ?? 0;
  return h("button.card", {
    type: "button", title: photo.path,
    dataset: { path: photo.path, index: i, flag: flagOf(d), rating: d.rating ?? 0 },
    class: `card${i === cursor ? " current" : ""}`,
  },
  h("img", { src: previewUrl(photo.content_hash, 256), alt: photo.path, loading: eager ? "eager" : "lazy", decoding: "async",
             draggable: false }),
  h("div.score-bar", { title: `score ${score.toFixed(2)}` },
    h("span", { style: { width: `${Math.round(score * 100)}%`, background: scoreColour(score) } })),
  h("div.meta", {},
    h("span.stars", { "aria-label": `${d.rating || 0} stars` }, d.rating ? stars(d.rating) : ""),
    h("span.badges", {}, badges),
    h("span.score", {}, score.toFixed(2))));
}

/** A decision changed (large view, keyboard, undo): update the stored photo and its card. */
function updatePhoto(path, decision) {
  for (const photos of pages.values()) {
    const photo = photos.find((p) => p.path === path);
    if (!photo) continue;
    photo.decision = decision;
    for (const [i, el] of rendered) {
      if (el.dataset.path === path) {
        const card = makeCard(photo, i);
        place(card, i);
        el.replaceWith(card);
        rendered.set(i, card);
      }
    }
  }
}

function setCursor(i, focus = false) {
  if (total === null || total === 0) return;
  cursor = Math.max(0, Math.min(total - 1, i));
  for (const [j, el] of rendered) el.classList.toggle("current", j === cursor);
  // Scroll the row into view when needed.
  const rowTop = grid.getBoundingClientRect().top + window.scrollY + Math.floor(cursor / layout.cols) * layout.rowH;
  const header = document.getElementById("top").offsetHeight + 60;
  if (rowTop < window.scrollY + header) window.scrollTo(0, rowTop - header);
  else if (rowTop + layout.rowH > window.scrollY + window.innerHeight) window.scrollTo(0, rowTop + layout.rowH - window.innerHeight);
  render();
  if (focus) rendered.get(cursor)?.focus({ preventScroll: true });
}

async function decideAt(i, values) {
  const photo = photoAt(i);
  if (!photo) return;
  const decision = await guarded(() => decide(photo.path, values, photo.decision), "not saved");
  if (decision) { updatePhoto(photo.path, decision); toast("saved"); }
}

function onKey(e) {
  if (viewer.isOpen()) return viewer.onKey(e);
  const k = e.key;
  const cols = layout.cols;
  const moves = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: cols, ArrowUp: -cols, l: 1, h: -1, j: cols, k: -cols };
  if (k in moves) { setCursor(cursor < 0 ? 0 : cursor + moves[k], true); return true; }
  if (k === "Home") { setCursor(0, true); return true; }
  if (k === "End") { setCursor((total || 1) - 1, true); return true; }
  if (k === "PageDown" || k === "PageUp") return false; // the browser scrolls
  if (cursor < 0) return false;
  if (k === "Enter") { viewer.open(cursor); return true; }
  const values = valuesForKey(k);
  if (values) { decideAt(cursor, values); return true; }
  if (k === "z" || k === "Z") {
    guarded(async () => {
      const done = await undo();
      if (!done) { toast("nothing to undo"); return; }
      updatePhoto(done.path, done.decision);
      toast(`undone: ${done.path}`);
    }, "undo failed");
    return true;
  }
  return false;
}

export default {
  mount, unmount, update, refresh, onKey,
  help: [["← → ↑ ↓", "move in the grid (also H J K L)"], ["Enter", "open the large view"],
         ["P", "keep"], ["X", "reject"], ["0 … 5", "stars"], ["Z", "undo"],
         ["in the large view: ← →", "previous / next photo"], ["Esc", "close the large view"]],
};
