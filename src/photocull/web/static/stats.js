// Stats: photos, kept / rejected / undecided (numbers and a bar), space the rejects free, and how
// often the user's flags agreed with the automatic ones.
import { api } from "./api.js";
import { guarded, h, formatBytes, fill } from "./ui.js";

let root;

function mount(el) {
  root = h("section", { id: "stats" }, h("h1", {}, "Stats"), h("p.empty", {}, "Loading…"));
  el.append(root);
  load();
}

function stat(name, label, value, extra) {
  return h("div.stat", {}, h("span.value", { dataset: { stat: name } }, value), h("span.label", {}, label),
    extra ? h("span.extra", {}, extra) : null);
}

async function load() {
  const s = await guarded(() => api("/api/stats"), "stats");
  if (!s) return;
  const pct = (n) => (s.photos ? `${((100 * n) / s.photos).toFixed(1)}%` : "");
  const agreement = s.agreement == null ? "–" : `${Math.round(s.agreement * 100)}%`;
  const bar = h("div.split-bar", { role: "img",
    "aria-label": `${s.kept} kept, ${s.rejected} rejected, ${s.undecided} undecided` },
    [["kept", s.kept], ["rejected", s.rejected], ["undecided", s.undecided]].map(([cls, n]) =>
      h(`span.${cls}`, { style: { flexGrow: n }, title: `${n} ${cls}` })));
  fill(root, h("h1", {}, "Stats"),
    h("div.stat-grid", {},
      stat("photos", "photos", s.photos.toLocaleString()),
      stat("kept", "kept", s.kept.toLocaleString(), pct(s.kept)),
      stat("rejected", "rejected", s.rejected.toLocaleString(), pct(s.rejected)),
      stat("undecided", "undecided", s.undecided.toLocaleString(), pct(s.undecided)),
      stat("space_saved", "space freed by the rejects", formatBytes(s.space_saved_bytes)),
      stat("agreement", "agreement with the automatic picks", agreement,
           `over ${s.user_flags} flag${s.user_flags === 1 ? "" : "s"} of yours`)),
    bar,
    h("p.legend", {}, h("span.kept", {}, "■ kept "), h("span.rejected", {}, "■ rejected "),
      h("span.undecided", {}, "■ undecided")));
}

export default { mount, refresh: load, help: [] };
