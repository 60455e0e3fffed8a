// Group review: one group at a time, the automatic pick highlighted with its reason, every member
// ranked. Keys: ← → member, ↑ ↓ / K J group, P keep, X reject, 0-5 stars, Z undo. Every decision is
// POSTed at once; the undo stack (decisions.js) restores the user's previous values.
import { api, query } from "./api.js";
import { decide, undo, flagOf, stars, valuesForKey } from "./decisions.js";
import { guarded, h, previewUrl, scoreColour, toast, fill } from "./ui.js";

const GROUPS_PAGE = 100;

// The order of the groups (ids), fetched a page at a time; kept across visits to the page.
const order = { ids: [], total: null, loading: null };

let root, section, group = null, current = 0, token = 0;

function loadMore() {
  if (order.loading) return order.loading;
  if (order.total !== null && order.ids.length >= order.total) return Promise.resolve(false);
  order.loading = api(`/api/groups${query({ offset: order.ids.length, limit: GROUPS_PAGE })}`)
    .then((data) => {
      order.total = data.total;
      for (const g of data.groups) order.ids.push(g.id);
      return data.groups.length > 0;
    })
    .finally(() => { order.loading = null; });
  return order.loading;
}

function mount(el, route) {
  root = el;
  section = h("section", { id: "review", "aria-label": "group review" }, h("p.empty", {}, "Loading groups…"));
  root.append(section);
  order.ids = []; order.total = null; // the groups may have changed since the last visit
  update(route);
}

function unmount() { token++; }

async function update(route) {
  const mine = ++token;
  let id = route.args[0] ? Number(route.args[0]) : null;
  if (id === null) {
    if (!order.ids.length && (await guarded(loadMore, "groups")) === undefined) return;
    if (mine !== token) return;
    if (!order.ids.length) {
      section.replaceChildren(h("p.empty", {}, "No groups: every photo stands alone. ",
        h("a", { href: "#/gallery" }, "Back to the gallery")));
      return;
    }
    id = order.ids[0];
    history.replaceState(null, "", `#/review/${id}`);
  }
  const found = await guarded(() => api(`/api/groups/${id}`), `group ${id}`);
  if (mine !== token || !found) return;
  if (!order.ids.length) guarded(loadMore, "groups").then(() => { if (mine === token) header(); });
  show(found);
}

function refresh() {
  if (group) update({ args: [String(group.id)] });
}

function show(found) {
  const samePath = group && group.id === found.id ? group.members[current]?.path : null;
  group = found;
  group.members.sort((a, b) => a.rank - b.rank);
  current = Math.max(0, group.members.findIndex((m) => m.path === (samePath || group.pick)));
  section.dataset.group = group.id;
  fill(section,
    h("div.review-head"),
    h("div.stage", {}, h("img.large", { alt: "" }), h("div.stage-info")),
    actions(),
    h("div.members", { role: "group", "aria-label": "members, best first" },
      group.members.map((m, i) => memberCard(m, i))));
  section.querySelector(".members").addEventListener("click", (e) => {
    const card = e.target.closest(".member");
    if (card) setCurrent(Number(card.dataset.index));
  });
  header();
  setCurrent(current);
  // Members are few: preload their large previews so ← → is instant.
  for (const m of group.members) if (m.content_hash) new Image().src = previewUrl(m.content_hash, 1024);
}

function header() {
  const head = section && section.querySelector(".review-head");
  if (!head || !group) return;
  const pos = order.ids.indexOf(group.id);
  const kind = group.kind.replace(/_/g, " ");
  fill(head,
    h("div.group-nav", {},
      h("button.prev-group", { type: "button", title: "previous group (↑ or K)", onclick: () => step(-1) }, "↑ prev"),
      h("span.position", {}, pos >= 0 ? `group ${pos + 1} of ${order.total ?? "…"}` : `group #${group.id}`),
      h("button.next-group", { type: "button", title: "next group (↓ or J)", onclick: () => step(1) }, "next ↓")),
    h("div.group-title", {}, h("span.kind", {}, kind), ` · ${group.members.length} photos`,
      group.keep_all ? h("span.badge", {}, "keep all") : null),
    h("p.group-reason", {}, h("strong", {}, "Pick: "), group.pick || "none", group.reason ? ` — ${group.reason}` : ""));
}

function actions() {
  const btn = (label, title, onclick, cls) => h(`button.${cls}`, { type: "button", title, onclick }, label);
  return h("div.actions", {},
    btn("←", "previous photo (←)", () => setCurrent(current - 1), "prev"),
    btn("Keep", "keep (P)", () => apply({ flag: "keep" }), "keep"),
    btn("Reject", "reject (X)", () => apply({ flag: "reject" }), "reject"),
    h("span.star-buttons", {}, [0, 1, 2, 3, 4, 5].map((n) =>
      btn(n === 0 ? "☆0" : `${n}★`, `${n} stars (${n})`, () => apply({ rating: n }), "star"))),
    btn("Undo", "undo (Z)", doUndo, "undo"),
    btn("→", "next photo (→)", () => setCurrent(current + 1), "next"));
}

function memberCard(m, i) {
  const d = m.decision || {};
  const isPick = m.path === group.pick;
  const score = m.score ?? 0;
  return h("button.member", {
    type: "button", title: m.path,
    class: `member${isPick ? " pick" : ""}${i === current ? " current" : ""}`,
    dataset: { path: m.path, index: i, flag: flagOf(d), rating: d.rating ?? 0 },
  },
  m.content_hash ? h("img", { src: previewUrl(m.content_hash, 256), alt: m.path, loading: "lazy" })
                 : h("span.missing", {}, "missing"),
  h("span.rank", {}, `#${m.rank}`, isPick ? h("strong.pick-label", {}, " PICK") : "",
    h("span.flag-label", {}, ` ${flagOf(d)}`)),
  h("span.score-bar", { title: `score ${score.toFixed(2)}` },
    h("span", { style: { width: `${Math.round(score * 100)}%`, background: scoreColour(score) } })),
  h("span.meta", {}, h("span.stars", {}, d.rating ? stars(d.rating) : ""), h("span.score", {}, score.toFixed(2)),
    m.relation ? h("span.relation", {}, m.relation.replace(/_/g, " ")) : null),
  h("span.reason", {}, m.reason || ""));
}

function setCurrent(i) {
  if (!group) return;
  current = Math.max(0, Math.min(group.members.length - 1, i));
  const m = group.members[current];
  for (const card of section.querySelectorAll(".member")) {
    const on = Number(card.dataset.index) === current;
    card.classList.toggle("current", on);
    if (on) { // scroll the strip only: scrollIntoView would scroll the page too
      const strip = card.parentElement;
      if (card.offsetLeft < strip.scrollLeft) strip.scrollLeft = card.offsetLeft - 8;
      else if (card.offsetLeft + card.offsetWidth > strip.scrollLeft + strip.clientWidth) {
        strip.scrollLeft = card.offsetLeft + card.offsetWidth - strip.clientWidth + 8;
      }
    }
  }
  const img = section.querySelector(".stage img");
  if (m.content_hash) {
    img.style.backgroundImage = `url(${previewUrl(m.content_hash, 256)})`;
    img.src = previewUrl(m.content_hash, 1024);
  } else img.removeAttribute("src");
  img.alt = m.path;
  const d = m.decision || {};
  fill(section.querySelector(".stage-info"),
    h("span.path", {}, m.path),
    h("span.flag", { dataset: { flag: flagOf(d) } }, flagOf(d), d.by_user ? " (you)" : d.flag ? " (auto)" : ""),
    h("span.stars", {}, stars(d.rating)),
    h("span.position", {}, `${current + 1} / ${group.members.length}`));
}

/** A new decision for a member: its card and, when current, the stage. */
function updateMember(path, decision) {
  if (!group) return;
  const i = group.members.findIndex((m) => m.path === path);
  if (i < 0) return;
  group.members[i].decision = decision;
  const old = section.querySelector(`.member[data-index="${i}"]`);
  if (old) old.replaceWith(memberCard(group.members[i], i));
  if (i === current) setCurrent(current);
}

async function apply(values) {
  if (!group) return;
  const m = group.members[current];
  const decision = await guarded(() => decide(m.path, values, m.decision), "not saved");
  if (!decision) return;
  updateMember(m.path, decision);
  toast("saved");
}

async function doUndo() {
  await guarded(async () => {
    const done = await undo();
    if (!done) { toast("nothing to undo"); return; }
    updateMember(done.path, done.decision);
    toast(`undone: ${done.path}`);
  }, "undo failed");
}

async function step(delta) {
  if (!group) return;
  let pos = order.ids.indexOf(group.id);
  // The group may lie beyond the pages fetched (a link to #/review/<id>): fetch until it is found.
  while (pos < 0 || pos + delta >= order.ids.length) {
    const more = await guarded(loadMore, "groups");
    if (!more) break;
    pos = order.ids.indexOf(group.id);
  }
  const next = pos < 0 ? 0 : pos + delta;
  if (next < 0) { toast("first group"); return; }
  if (next >= order.ids.length) { toast("last group"); return; }
  location.hash = `#/review/${order.ids[next]}`;
}

function onKey(e) {
  const k = e.key;
  if (k === "ArrowLeft") { setCurrent(current - 1); return true; }
  if (k === "ArrowRight") { setCurrent(current + 1); return true; }
  if (k === "ArrowUp" || k === "k" || k === "K") { step(-1); return true; }
  if (k === "ArrowDown" || k === "j" || k === "J") { step(1); return true; }
  if (k === "z" || k === "Z") { doUndo(); return true; }
  const values = valuesForKey(k);
  if (values) { apply(values); return true; }
  return false;
}

export default {
  mount, unmount, update, refresh, onKey,
  help: [["← →", "previous / next photo in the group"], ["↑ ↓ or K J", "previous / next group"],
         ["P", "keep"], ["X", "reject"], ["0 … 5", "stars"], ["Z", "undo"]],
};
