"""Judge a photo by its faces: are the people who matter looking, with eyes open, in focus?

Each face gets a penalty, the sum of the ``[rules]`` penalties that apply to
it (eyes closed or uncertain, out of focus, turned away, not smiling), at
most 1. The photo's face score is 1 minus the mean penalty weighted by each
face's role (main, important, other; a face with no person counts as other),
so a stranger blinking in the background costs little and the bride
blinking costs a lot. With ``main_eyes_open``, a main person with closed eyes
rejects the photo outright. Faces of 'other' people smaller than
``min_other_face`` of the photo's width are passers-by and not judged.

A photo without (judged) faces has no face score: it is judged on its other
measures alone, never as if its faces were perfect or all bad. Roles change
without a re-scan, so verdicts are computed when asked, never stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from photocull.config import RuleSettings


@dataclass(frozen=True, slots=True)
class FaceVerdict:
    score: float | None  # 0-1, 1 = every judged face perfect; None: no judged faces
    rejected: bool  # a hard rule failed (a main person's eyes closed)
    reasons: tuple[str, ...]  # one line per face with a problem, worst first, or one line saying all is well
    judged: int  # faces that counted


def judge_faces(faces: Sequence[Mapping[str, Any]], rules: RuleSettings) -> FaceVerdict:
    """The verdict on one photo from its faces' rows (as ``Catalog.faces`` gives them)."""
    weights = {"main": rules.weight_main, "important": rules.weight_important, "other": rules.weight_other}
    total_weight = weighted_penalty = 0.0
    rejected = False
    problems: list[tuple[float, str]] = []
    judged = 0
    for face in faces:
        role = face.get("role") or "other"
        if role == "other" and face["x1"] - face["x0"] < rules.min_other_face:
            continue
        judged += 1
        issues = _issues(face, rules)
        penalty = min(1.0, sum(cost for _, cost in issues))
        total_weight += weights[role]
        weighted_penalty += weights[role] * penalty
        texts = [text for text, _ in issues]
        blink = role == "main" and rules.main_eyes_open and face["eyes"] == "closed"
        if blink:
            rejected = True
            texts = ["eyes closed (rejects the photo: main people must have their eyes open)"] + [
                t for t in texts if t != "eyes closed"]
        if texts:
            problems.append((weights[role] * penalty + (1e3 if blink else 0),
                             f"{who(face)} ({role}): {', '.join(texts)}"))
    if not judged:
        return FaceVerdict(None, False, (), 0)
    score = 1.0 - weighted_penalty / total_weight if total_weight > 0 else None
    reasons = tuple(text for _, text in sorted(problems, key=lambda p: -p[0]))
    if not reasons:
        reasons = (f"{'the face' if judged == 1 else f'all {judged} faces'}: eyes open, in focus, facing, smiling",)
    return FaceVerdict(None if score is None else round(score, 4), rejected, reasons, judged)


def judge_catalog(faces: Iterable[Mapping[str, Any]], rules: RuleSettings) -> dict[str, FaceVerdict]:
    """Verdicts for every photo file among ``faces`` (rows of ``Catalog.faces()``), by path."""
    by_path: dict[str, list[Mapping[str, Any]]] = {}
    for face in faces:
        by_path.setdefault(face["path"], []).append(face)
    return {path: judge_faces(rows, rules) for path, rows in by_path.items()}


def with_verdicts(photos: list[dict[str, Any]], faces: Iterable[Mapping[str, Any]],
                  rules: RuleSettings) -> list[dict[str, Any]]:
    """The photo rows (of ``Catalog.photos``) with ``face_score``, ``face_rejected`` and ``face_issues`` added."""
    verdicts = judge_catalog(faces, rules)
    for photo in photos:
        verdict = verdicts.get(photo["path"])
        photo["face_score"] = verdict.score if verdict else None
        photo["face_rejected"] = verdict.rejected if verdict else None
        photo["face_issues"] = "; ".join(verdict.reasons) if verdict else None
    return photos


def best_by_faces(photos: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Photos with verdicts, best first: not rejected, then face score; photos without faces last."""
    return sorted(photos, key=lambda p: (p["face_score"] is None, bool(p["face_rejected"]),
                                         -(p["face_score"] or 0.0)))


def _issues(face: Mapping[str, Any], rules: RuleSettings) -> list[tuple[str, float]]:
    issues = []
    if face["eyes"] == "closed":
        issues.append(("eyes closed", rules.eyes_closed_penalty))
    elif face["eyes"] == "uncertain":
        issues.append(("eyes half closed", rules.eyes_uncertain_penalty))
    if face["sharpness"] is not None and face["sharpness"] < rules.min_face_sharpness:
        issues.append((f"out of focus ({face['sharpness']:.2f})", rules.blurry_face_penalty))
    if not face["facing"]:
        issues.append(("turned away", rules.turned_away_penalty))
    if not face["smiling"]:
        issues.append(("not smiling", rules.no_smile_penalty))
    return [(text, cost) for text, cost in issues if cost > 0]


def who(face: Mapping[str, Any], unknown: str = "face {}") -> str:
    """A face in words: the person's name, else "person 7", else ``unknown`` with the face's index."""
    if face.get("person_name"):
        return str(face["person_name"])
    if face.get("person") is not None:
        return f"person {face['person']}"
    return unknown.format(face.get("face_index", 0))
