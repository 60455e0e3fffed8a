// The gallery's large view: one photo at 1024 px over the page, with keep / reject / stars buttons
// for touch and the same keys as the review (P, X, 0-5, Z, arrows).
import { decide, undo, flagOf, stars, valuesForKey } from "./decisions.js";
import { guarded, h, previewUrl, scoreColour, toast, formatTime, fill } from "./ui.js";

export class Viewer {
  /** photoAt(i): async, the photo at index i; count(): how many; onDecision(path, decision); onClose(i). */
  constructor({ photoAt, count, onDecision, onClose }) {
    this.photoAt = photoAt;
    this.count = count;
    this.onDecision = onDecision;
    this.onClose = onClose;
    this.index = -1;
    this.photo = null;
    this.img = h("img.large", { alt: "" });
    this.info = h("div.viewer-info");
    const btn = (label, title, onclick, cls = "") => h(`button${cls}`, { type: "button", title, onclick }, label);
    this.controls = h("div.controls", {},
      btn("‹", "previous (←)", () => this.go(-1), ".nav-prev"),
      btn("Keep", "keep (P)", () => this.apply({ flag: "keep" }), ".keep"),
      btn("Reject", "reject (X)", () => this.apply({ flag: "reject" }), ".reject"),
      h("span.star-buttons", {}, [0, 1, 2, 3, 4, 5].map((n) =>
        btn(n === 0 ? "☆0" : `${n}★`, `${n} stars (${n})`, () => this.apply({ rating: n }), ".star"))),
      btn("Undo", "undo (Z)", () => this.undo(), ".undo"),
      btn("›", "next (→)", () => this.go(1), ".nav-next"),
      btn("✕", "close (Esc)", () => this.close(), ".close"));
    this.el = h("div.overlay.viewer", { id: "viewer", role: "dialog", "aria-modal": "true", "aria-label": "photo", hidden: true },
      h("div.viewer-frame", {}, this.img), this.info, this.controls);
    this.el.addEventListener("click", (e) => { if (e.target === this.el) this.close(); });
    // Swipe left / right on a touch screen: next / previous.
    let x0 = null;
    this.el.addEventListener("touchstart", (e) => { x0 = e.touches[0].clientX; }, { passive: true });
    this.el.addEventListener("touchend", (e) => {
      if (x0 === null) return;
      const dx = e.changedTouches[0].clientX - x0;
      x0 = null;
      if (Math.abs(dx) > 60) this.go(dx < 0 ? 1 : -1);
    });
  }

  isOpen() { return !this.el.hidden; }

  async open(i) {
    const photo = await this.photoAt(i);
    if (!photo) return;
    this.index = i;
    this.photo = photo;
    this.el.hidden = false;
    document.body.classList.add("no-scroll");
    // The 256 px thumbnail (already cached) shows at once; the 1024 px preview replaces it when loaded.
    this.img.style.backgroundImage = `url(${previewUrl(photo.content_hash, 256)})`;
    this.img.src = previewUrl(photo.content_hash, 1024);
    this.img.alt = photo.path;
    this.show();
    this.photoAt(i + 1).then((next) => { if (next) new Image().src = previewUrl(next.content_hash, 1024); });
  }

  show() {
    const p = this.photo, d = p.decision || {};
    this.el.dataset.path = p.path;
    this.el.dataset.flag = flagOf(d);
    this.el.dataset.rating = d.rating ?? 0;
    const issues = [p.flags?.blurry && "blurry", p.flags?.eyes_closed && "eyes closed",
                    p.flags?.badly_exposed && "badly exposed",
                    ...(Array.isArray(p.face_issues) ? p.face_issues : [p.face_issues])].filter(Boolean);
    fill(this.info,
      h("span.path", {}, p.path),
      h("span.flag", { dataset: { flag: flagOf(d) } }, flagOf(d), d.by_user ? " (you)" : d.flag ? " (auto)" : ""),
      h("span.stars", {}, stars(d.rating)),
      h("span.score", { style: { color: scoreColour(p.score ?? 0) } }, `score ${(p.score ?? 0).toFixed(2)}`),
      p.time ? h("span.time", {}, formatTime(p.time)) : null,
      issues.length ? h("span.issues", {}, issues.join(", ")) : null,
      h("span.position", {}, `${this.index + 1} / ${this.count().toLocaleString()}`));
  }

  async go(step) {
    const next = this.index + step;
    if (next < 0 || next >= this.count()) return;
    await this.open(next);
  }

  async apply(values) {
    const p = this.photo;
    const decision = await guarded(() => decide(p.path, values, p.decision), "not saved");
    if (!decision) return;
    p.decision = decision;
    this.onDecision(p.path, decision);
    if (this.photo === p) this.show();
    toast("saved");
  }

  async undo() {
    await guarded(async () => {
      const done = await undo();
      if (!done) { toast("nothing to undo"); return; }
      this.onDecision(done.path, done.decision);
      if (this.photo && this.photo.path === done.path) { this.photo.decision = done.decision; this.show(); }
      toast(`undone: ${done.path}`);
    }, "undo failed");
  }

  close() {
    if (!this.isOpen()) return;
    this.el.hidden = true;
    this.img.removeAttribute("src");
    document.body.classList.remove("no-scroll");
    this.onClose(this.index);
  }

  onKey(e) {
    const k = e.key;
    if (k === "Escape") { this.close(); return true; }
    if (k === "ArrowRight" || k === "ArrowDown" || k === " ") { this.go(1); return true; }
    if (k === "ArrowLeft" || k === "ArrowUp") { this.go(-1); return true; }
    if (k === "z" || k === "Z") { this.undo(); return true; }
    const values = valuesForKey(k);
    if (values) { this.apply(values); return true; }
    return false;
  }
}
