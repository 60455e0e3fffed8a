// Decisions: every change is POSTed at once (nothing is held in the page), with one undo stack
// shared by the gallery's large view and the group review.
import { api } from "./api.js";

const undoStack = [];

/** The user's own values before a change: `decision.user` (null when none). */
function userValues(decision) {
  if (!decision) return null;
  if (decision.user !== undefined) return decision.user;
  // Older servers without `user`: rebuild it from the flags they give.
  return decision.by_user ? { flag: decision.user_flag ?? null, rating: decision.rating ?? null,
                              label: decision.label ?? null } : null;
}

/** Save `values` ({flag?, rating?, label?}) for `path`; `before` is the decision shown now. Returns the new decision. */
export async function decide(path, values, before) {
  const answer = await api("/api/decisions", { method: "POST", body: { path, ...values } });
  undoStack.push({ path, user: userValues(before) });
  if (undoStack.length > 500) undoStack.shift();
  return answer.decisions[path];
}

/** Undo the last change: restore the user's previous values, or forget the decision when there were none.
 * Returns {path, decision} or null when there is nothing to undo. */
export async function undo() {
  const last = undoStack.pop();
  if (!last) return null;
  try {
    let answer;
    if (last.user) {
      const { flag, rating, label } = last.user;
      answer = await api("/api/decisions", { method: "POST", body: { path: last.path, flag, rating, label } });
    } else {
      answer = await api(`/api/decisions?path=${encodeURIComponent(last.path)}`, { method: "DELETE" });
    }
    return { path: last.path, decision: answer.decisions[last.path] };
  } catch (err) {
    undoStack.push(last); // not undone: keep it for another try
    throw err;
  }
}

export const canUndo = () => undoStack.length > 0;

export function flagOf(decision) {
  return (decision && decision.flag) || "undecided";
}

export function stars(rating) {
  const n = rating || 0;
  return "★".repeat(n) + "☆".repeat(5 - n);
}

/** A decision key (P, X, 0-5) as the values to save, or null. */
export function valuesForKey(key) {
  const k = key.toLowerCase();
  if (k === "p") return { flag: "keep" };
  if (k === "x") return { flag: "reject" };
  if (/^[0-5]$/.test(key)) return { rating: Number(key) };
  return null;
}
