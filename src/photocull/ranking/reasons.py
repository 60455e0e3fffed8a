"""Why a pick was kept and why each other shot lost, in words a person can check.

The pick's reason compares it with the other shots of its group and keeps the
(at most three) largest differences, largest first: faces first when they
differ ("eyes closed in 2 of the 3 other shots", "sharper face of Ana"), then
sharpness ("sharper than the next best (0.72 vs 0.41)", "2 of the 3 other
shots blurry"), exposure ("1.2 EV brighter", "less clipping (1% vs 8%)") and
aesthetics ("higher aesthetic score (5.6 vs 4.9)"). A keep rule that decided
between copies comes first ("RAW kept over its JPEG", "largest copy:
4032×3024"). Every other shot gets a short reason why it lost, measured
against the pick ("Ana's eyes closed; 0.8 EV darker"). Numeric comparisons are
with the runner-up: it is the shot a person would ask about.

Thresholds below which a difference is not worth saying are the constants at
the top; the weights that order the phrases put a closed eye above a sharpness
gap of 0.25, and that above an exposure gap of 1 EV.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from photocull.grouping.groups import PhotoItem
from photocull.ranking.composite import Score
from photocull.ranking.face_rules import who

UNNAMED_FACE = "a face ({})"  # a face no person was found for, by its index

MIN_SHARPNESS_GAP = 0.05  # sharpness 0-1
MIN_FACE_SHARPNESS_GAP = 0.1
MIN_EV_GAP = 0.5  # stops
MIN_CLIPPING_GAP = 0.02  # share of pixels
MIN_NIMA_GAP = 0.2  # NIMA mean, 1-10
MAX_PHRASES = 3

KEEP_ALL_WHY = {
    "bracket": "every frame of an exposure bracket is needed to merge it",
    "panorama": "every frame of a panorama is needed to stitch it",
}


@dataclass(slots=True)
class Shot:
    """One member as reasons see it: its file, measurements, judged faces and score."""

    item: PhotoItem
    photo: Mapping[str, Any]
    faces: list[Mapping[str, Any]] = field(default_factory=list)
    score: Score | None = None

    def get(self, name: str) -> Any:
        return self.photo.get(name)

    @property
    def closed_eyes(self) -> list[str]:
        """Who has closed eyes (names where known)."""
        return [who(f, UNNAMED_FACE) for f in self.faces if f.get("eyes") == "closed"]

    def face_sharpness(self) -> dict[str, float]:
        """The sharpest face of each known person in the shot."""
        found: dict[str, float] = {}
        for face in self.faces:
            if face.get("person") is None or face.get("sharpness") is None:
                continue
            name = who(face, UNNAMED_FACE)
            found[name] = max(found.get(name, 0.0), float(face["sharpness"]))
        return found


def keep_all_reason(kind: str, count: int) -> str:
    return f"all {count} frames kept: {KEEP_ALL_WHY.get(kind, 'every frame is needed')}"


def pick_reason(pick: Shot, rivals: Sequence[Shot], rule: str | None = None,
                copies: Sequence[Shot] = ()) -> str:
    """Why ``pick`` beats ``rivals`` (the group's other photos, best first; not its own copies)."""
    phrases: list[tuple[float, str]] = []
    if rule:
        phrases.append((100.0, rule))
    if rivals:
        phrases += _advantages(pick, rivals)
    elif copies and not rule:  # copies of one photo, the best kept: say what made it the best
        phrases += _advantages(pick, copies)
    chosen = [text for _, text in sorted(phrases, key=lambda p: -p[0])[:MAX_PHRASES]]
    if not chosen:
        if rivals:
            chosen = [f"highest score ({_score(pick)} vs {_score(rivals[0])})"]
        elif copies:
            chosen = [f"best of {len(copies) + 1} copies of one photo (score {_score(pick)} vs {_score(copies[0])})"]
        else:
            chosen = ["the only photo"]
    return "; ".join(chosen)


def loser_reason(shot: Shot, pick: Shot, *, copy: bool = False, rule: str | None = None,
                 keep_all: bool = False, kept: str = "the pick") -> str:
    """Why ``shot`` ranks below ``pick`` (or, in a keep-all group, that it is kept anyway).

    With ``copy``, ``pick`` is the copy kept of ``shot``'s photo, which ``kept`` names
    ("the pick", or "#3" when that photo itself lost to another shot of the group).
    """
    if keep_all:
        return "kept with the others; " + (_deficits(shot, pick)[0][1] if _deficits(shot, pick) else
                                           f"score {_score(shot)}")
    if copy:
        same = shot.item.content_hash == pick.item.content_hash
        text = f"identical file to {kept}" if same else f"{_kind(shot.item)} copy of {kept}"
        if rule:
            return f"{text} ({rule})"
        worse = sorted(_deficits(shot, pick), key=lambda p: -p[0])[:2]
        return "; ".join([text] + [t for _, t in worse])
    found = _deficits(shot, pick)
    if not found:
        return f"lower score ({_score(shot)} vs {_score(pick)})"
    return "; ".join(text for _, text in sorted(found, key=lambda p: -p[0])[:MAX_PHRASES])


def _advantages(pick: Shot, rivals: Sequence[Shot]) -> list[tuple[float, str]]:
    phrases: list[tuple[float, str]] = []
    runner = rivals[0]
    n = len(rivals)
    others = "the other shot" if n == 1 else f"the {n} other shots"
    # faces: closed eyes, face rules, sharper faces of the same person
    if not pick.closed_eyes:
        closing = [r for r in rivals if r.closed_eyes]
        if closing:
            where = others if len(closing) == n else f"{len(closing)} of {others}"
            names = {w for r in closing for w in r.closed_eyes if not w.startswith("a face")}
            who = f" ({', '.join(sorted(names))})" if names and len(names) <= 2 else ""
            phrases.append((1.0 + len(closing) / n, f"eyes closed in {where}{who}"))
    if pick.score and not pick.score.rejected:
        rejected = [r for r in rivals if r.score and r.score.rejected and not r.closed_eyes]
        if rejected:
            phrases.append((1.0 + len(rejected) / n, f"the face rules reject {len(rejected)} of {others}"))
    mine = pick.face_sharpness()
    gaps = []
    for who, sharp in mine.items():
        theirs = [r.face_sharpness().get(who) for r in rivals]
        theirs = [t for t in theirs if t is not None]
        if theirs and sharp - max(theirs) >= MIN_FACE_SHARPNESS_GAP:
            gaps.append((sharp - max(theirs), who))
    if gaps:
        gap, who = max(gaps)
        phrases.append((0.5 + 3 * gap, f"sharper face of {who}"))
    # sharpness of the whole photo
    if not pick.get("blurry"):
        blurry = [r for r in rivals if r.get("blurry")]
        if blurry:
            where = others if len(blurry) == n else f"{len(blurry)} of {others}"
            phrases.append((1.0 + 0.5 * len(blurry) / n, f"{where} blurry" if len(blurry) > 1 or n > 1 else
                            "the other shot is blurry"))
    gap = _gap(pick, runner, "sharpness")
    if gap is not None and gap >= MIN_SHARPNESS_GAP:
        if n == 1:  # "sharper than the other shot (1.00 vs 0.20)" says it all
            phrases = [p for p in phrases if p[1] != "the other shot is blurry"]
        than = "the other shot" if n == 1 else "the next best"
        phrases.append((4 * gap, f"sharper than {than} ({pick.get('sharpness'):.2f} vs {runner.get('sharpness'):.2f})"))
    # exposure
    ev = _exposure_phrase(pick, runner)
    if ev:
        phrases.append(ev)
    clip = _clipping(pick) , _clipping(runner)
    if None not in clip and clip[1] - clip[0] >= MIN_CLIPPING_GAP:
        phrases.append((5 * (clip[1] - clip[0]), f"less clipping ({clip[0]:.0%} vs {clip[1]:.0%})"))
    # aesthetics
    gap = _gap(pick, runner, "nima_mean")
    if gap is not None and gap >= MIN_NIMA_GAP:
        phrases.append((0.8 * gap, f"higher aesthetic score ({pick.get('nima_mean'):.1f} vs "
                                   f"{runner.get('nima_mean'):.1f})"))
    return phrases


def _deficits(shot: Shot, pick: Shot) -> list[tuple[float, str]]:
    phrases: list[tuple[float, str]] = []
    closed = [w for w in shot.closed_eyes if w not in pick.closed_eyes]
    if closed:
        named = sorted({w for w in closed if not w.startswith("a face")})
        text = (f"{' and '.join(named)}'s eyes closed" if len(named) == 1 else
                f"{', '.join(named)}: eyes closed" if named else "eyes closed")
        phrases.append((2.0 if shot.score and shot.score.rejected else 1.5, text))
    elif shot.score and shot.score.rejected and not (pick.score and pick.score.rejected):
        phrases.append((2.0, "rejected by the face rules"))
    theirs = pick.face_sharpness()
    gaps = [(theirs[w] - s, w) for w, s in shot.face_sharpness().items()
            if w in theirs and theirs[w] - s >= MIN_FACE_SHARPNESS_GAP]
    if gaps:
        gap, who = max(gaps)
        phrases.append((0.5 + 3 * gap, f"softer face of {who}"))
    if shot.get("blurry") and not pick.get("blurry"):
        kind = shot.get("blur_kind")
        phrases.append((1.2, f"blurry{f' ({kind})' if kind else ''}"))
    else:
        gap = _gap(pick, shot, "sharpness")
        if gap is not None and gap >= MIN_SHARPNESS_GAP:
            phrases.append((4 * gap, f"less sharp ({shot.get('sharpness'):.2f} vs {pick.get('sharpness'):.2f})"))
    ev = _exposure_phrase(pick, shot, loser=True)
    if ev:
        phrases.append(ev)
    clip = _clipping(shot), _clipping(pick)
    if None not in clip and clip[0] - clip[1] >= MIN_CLIPPING_GAP:
        phrases.append((5 * (clip[0] - clip[1]), f"more clipping ({clip[0]:.0%} vs {clip[1]:.0%})"))
    gap = _gap(pick, shot, "nima_mean")
    if gap is not None and gap >= MIN_NIMA_GAP:
        phrases.append((0.8 * gap, f"lower aesthetic score ({shot.get('nima_mean'):.1f} vs "
                                   f"{pick.get('nima_mean'):.1f})"))
    return phrases


def _exposure_phrase(pick: Shot, other: Shot, loser: bool = False) -> tuple[float, str] | None:
    """The pick's exposure against another's, when the pick is nearer middle grey by enough."""
    a, b = pick.get("exposure_ev"), other.get("exposure_ev")
    if a is None or b is None or abs(a - b) < MIN_EV_GAP or abs(a) >= abs(b):
        return None
    gap = abs(a - b)
    if loser:  # said of the other shot
        return 0.4 * gap, f"{gap:.1f} EV {'darker' if b < a else 'brighter'}"
    return 0.4 * gap, f"{gap:.1f} EV {'brighter' if a > b else 'darker'}"


def _clipping(shot: Shot) -> float | None:
    high, low = shot.get("highlight_clipping"), shot.get("shadow_clipping")
    return None if high is None or low is None else float(high) + float(low)


def _gap(better: Shot, worse: Shot, name: str) -> float | None:
    a, b = better.get(name), worse.get(name)
    return None if a is None or b is None else float(a) - float(b)


def _score(shot: Shot) -> str:
    return "-" if shot.score is None else f"{shot.score.score:.2f}"


def _kind(item: PhotoItem) -> str:
    name = item.format.upper()
    return "RAW" if name.startswith("RAW") else "HEIC" if name in ("HEIF", "HEIC") else name
