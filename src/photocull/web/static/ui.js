// Shared bits of the page: the toast in #status, the server-event bus, small DOM helpers.

/** Events from the server (`job`, `reload`) for the pages: bus.addEventListener("job", e => e.detail). */
export const bus = new EventTarget();

let toastTimer = null;

/** A short message in #status; kind "error" stays longer. The text stays in the element after it fades. */
export function toast(message, kind = "ok") {
  const status = document.getElementById("status");
  status.textContent = message;
  status.dataset.kind = kind;
  status.classList.add("shown");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => status.classList.remove("shown"), kind === "error" ? 6000 : 1800);
}

/** Runs an async action and shows its failure as a toast; returns its value, or undefined on failure. */
export async function guarded(action, what = "failed") {
  try {
    return await action();
  } catch (err) {
    toast(`${what}: ${err.message}`, "error");
    return undefined;
  }
}

/** h("div.card", {title: "x", dataset: {path}}, child, "text"): a small element builder. */
export function h(tag, props = {}, ...children) {
  const [name, ...classes] = tag.split(".");
  const el = document.createElement(name || "div");
  if (classes.length) el.className = classes.join(" ");
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "style" && typeof value === "object") Object.assign(el.style, value);
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export const previewUrl = (hash, size) => `/previews/${hash}/${size}`;

/** A score 0-1 as a colour from red to green. */
export const scoreColour = (score) => `hsl(${Math.round(Math.max(0, Math.min(1, score)) * 120)} 65% 45%)`;

export function formatBytes(bytes) {
  if (bytes == null) return "–";
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(2)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  if (bytes >= 1e3) return `${(bytes / 1e3).toFixed(0)} kB`;
  return `${bytes} B`;
}

export function formatTime(seconds) {
  if (!seconds) return "";
  return new Date(seconds * 1000).toLocaleString();
}

/** el.replaceChildren(...) without the null / false / undefined children (which it would show as text). */
export function fill(el, ...children) {
  el.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}
