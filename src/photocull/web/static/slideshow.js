// Slideshow: the best photos first (one per group), full screen, 1024 px previews, the next one
// preloaded. Keys: → or Space next, ← previous, P pause / play (4 s per photo), F full screen,
// Esc back to the gallery. Tap the right or left side of the screen: next / previous.
import { api, query } from "./api.js";
import { guarded, h, previewUrl, toast } from "./ui.js";

const PAGE = 100;
const DELAY = 4000;

let root, img, caption, hint, photos = [], total = 0, index = 0, playing = true, timer = null;
let filter = "best", token = 0;

function mount(el) {
  const mine = ++token;
  photos = []; total = 0; index = 0; playing = true; filter = "best";
  img = h("img", { alt: "" });
  caption = h("div.caption");
  hint = h("div.hint", {}, "→ / Space next · ← previous · P pause · F full screen · Esc leave");
  root = h("section", { id: "slideshow", tabindex: "-1" }, img, caption, hint);
  root.addEventListener("click", (e) => {
    if (e.target.closest("button")) return;
    const x = e.clientX / window.innerWidth;
    go(x < 0.3 ? -1 : 1);
  });
  el.append(root);
  document.body.classList.add("no-scroll");
  fetchMore(mine).then(() => { if (mine === token) show(0); });
}

function unmount() {
  token++;
  clearTimeout(timer);
  document.body.classList.remove("no-scroll");
  if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
}

async function fetchMore(mine) {
  if (photos.length && photos.length >= total) return;
  let data;
  try {
    data = await api(`/api/photos${query({ sort: "score", filter, offset: photos.length, limit: PAGE })}`);
  } catch (err) {
    // A server without the `best` filter: all photos by score instead.
    if (filter === "best" && err.status === 422) { filter = ""; return fetchMore(mine); }
    toast(`slideshow: ${err.message}`, "error");
    return;
  }
  if (mine !== token) return;
  total = data.total;
  photos.push(...data.photos);
}

async function show(i) {
  if (!photos.length) { caption.textContent = "No photos yet."; return; }
  index = (i + total) % total; // wraps around at both ends
  if (index >= photos.length) {
    await fetchMore(token);
    if (index >= photos.length) index = 0;
  }
  const p = photos[index];
  img.src = previewUrl(p.content_hash, 1024);
  img.alt = p.path;
  caption.textContent = `${index + 1} / ${total} · ${p.path}${playing ? "" : " · paused"}`;
  root.dataset.index = index;
  root.dataset.playing = playing;
  // Preload the next one, fetching the next page when near its end.
  if (index + 5 >= photos.length && photos.length < total) fetchMore(token);
  const next = photos[(index + 1) % photos.length];
  if (next) new Image().src = previewUrl(next.content_hash, 1024);
  schedule();
}

function schedule() {
  clearTimeout(timer);
  if (playing) timer = setTimeout(() => go(1), DELAY);
}

function go(step) { if (photos.length) show(index + step); }

function togglePlay() {
  playing = !playing;
  toast(playing ? "playing" : "paused");
  show(index);
}

function toggleFullscreen() {
  if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
  else if (root.requestFullscreen) root.requestFullscreen().catch((err) => toast(`full screen: ${err.message}`, "error"));
}

function onKey(e) {
  const k = e.key;
  if (k === "ArrowRight" || k === " ") { go(1); return true; }
  if (k === "ArrowLeft") { go(-1); return true; }
  if (k === "p" || k === "P") { togglePlay(); return true; }
  if (k === "f" || k === "F") { toggleFullscreen(); return true; }
  if (k === "Escape") { location.hash = "#/gallery"; return true; }
  return false;
}

export default {
  mount, unmount, onKey,
  help: [["→ Space", "next photo"], ["←", "previous photo"], ["P", "pause / play (4 s each)"],
         ["F", "full screen"], ["Esc", "back to the gallery"]],
};
