// Export: the keepers as a ZIP download, or XMP sidecars written next to the photos.
import { api } from "./api.js";
import { guarded, h, toast } from "./ui.js";

let root, zip, result;

function mount(el) {
  const undecided = h("input", { type: "checkbox", id: "include-undecided",
    onchange: () => { zip.href = zipUrl(undecided.checked); } });
  zip = h("a.button", { id: "export-zip", href: zipUrl(false), download: "photocull-keepers.zip" }, "Download keepers (ZIP)");
  const xmp = h("button", { id: "export-xmp", type: "button", onclick: () => writeXmp(xmp) }, "Write XMP sidecars");
  result = h("pre", { id: "export-result", "aria-live": "polite" });
  root = h("section.export", {}, h("h1", {}, "Export"),
    h("div.card-box", {}, h("h2", {}, "ZIP of the keepers"),
      h("p", {}, "The photos flagged keep, in one download, folders kept."),
      h("label", {}, undecided, " include undecided photos"), h("p", {}, zip)),
    h("div.card-box", {}, h("h2", {}, "XMP sidecars"),
      h("p", {}, "Flags, stars and labels into .xmp files beside the photos, for Lightroom, darktable and others."),
      h("p", {}, xmp)),
    result);
  el.append(root);
}

const zipUrl = (undecided) => `/api/export/zip?include_undecided=${undecided ? "true" : "false"}`;

async function writeXmp(button) {
  button.disabled = true;
  result.textContent = "writing…";
  const answer = await guarded(() => api("/api/export/xmp", { method: "POST", body: {} }), "XMP export failed");
  button.disabled = false;
  if (!answer) { result.textContent = "failed (see the message above)"; return; }
  // Counts as they are; lists (the files written) by their length and first few.
  const show = (v) => (Array.isArray(v) ? `${v.length}${v.length ? ` (${v.slice(0, 3).join(", ")}${v.length > 3 ? ", …" : ""})` : ""}`
                       : typeof v === "object" && v !== null ? JSON.stringify(v) : v);
  const lines = Object.entries(answer).filter(([k]) => k !== "errors").map(([k, v]) => `${k}: ${show(v)}`);
  for (const err of answer.errors || []) lines.push(`error: ${typeof err === "string" ? err : JSON.stringify(err)}`);
  result.textContent = lines.join("\n");
  toast(`XMP: ${answer.written ?? 0} written`);
}

export default { mount, help: [] };
