#!/usr/bin/env python
"""Calibrate the eyes open / closed thresholds on the eyes corpus, and measure their accuracy.

Corpus: ``../shared/corpus/eyes/closed`` (400 CEW face crops, 48-212 px) and
``eyes/open`` (400 UTKFace crops, 200 x 200). Each crop is taken as the face
box; Face Mesh runs on it enlarged by the margin (black outside the crop, as
MediaPipe pads), then :func:`eye_openness` measures both eyes on the crop.

Split, fixed: in each folder the file names sorted, even positions calibrate
and odd positions are held out. On the calibration half the script picks

* the margin (from ``--margins``) and the way of combining both eyes with the
  best balanced accuracy at a single threshold;
* the "uncertain" band ``closed_below`` .. ``open_above``: the thresholds
  around the best one whose balanced accuracy is within 0.005 of it (inside,
  moving the threshold only trades closed misses for open ones).

It prints balanced accuracy on the calibration half, the held-out half and all,
with uncertain answers counted as wrong and left out, the uncertain counts,
the eye aspect ratio's best accuracy for comparison, and the mesh's CPU time
per face on one thread. A crop where the mesh sees no face counts as uncertain.

Usage::

    python bench/calibrate_eyes.py [--margins 0.25 0.5 0.75 1.0]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from photocull.analysis.faces import expressions, mesh  # noqa: E402
from photocull.config import Settings  # noqa: E402
from photocull.models import store  # noqa: E402

EYES = ROOT.parent / "shared" / "corpus" / "eyes"
COMBINATIONS = {"min": np.minimum, "mean": lambda r, l: (r + l) / 2, "max": np.maximum}


@dataclass
class Measured:
    closed: np.ndarray  # bool per crop: the folder says closed
    calibration: np.ndarray  # bool per crop: in the calibration half
    found: np.ndarray  # bool per crop: the mesh saw a face
    openness: np.ndarray  # N x 2 (right, left); 0 where not found
    ear: np.ndarray  # N x 2
    seconds: float  # CPU time in session.run
    runs: int
    landmarks_seconds: float  # CPU time in face_landmarks: crop, session.run, points back to the photo
    measures_seconds: float  # CPU time in eye_openness, smile and head_pose


def crops() -> list[tuple[Path, bool, bool]]:
    """(path, closed, in calibration half) for every crop; the split is fixed by sorted names."""
    found = []
    for folder, closed in (("closed", True), ("open", False)):
        files = sorted((EYES / folder).glob("*.jpg"))
        if not files:
            raise SystemExit(f"no crops in {EYES / folder}")
        found += [(path, closed, i % 2 == 0) for i, path in enumerate(files)]
    return found


def session():
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(store.fetch("face-mesh", Settings())), options,
                                providers=["CPUExecutionProvider"])


class TimedSession:
    """Wraps an ONNX session to add up the CPU time of its runs."""

    def __init__(self, inner):
        self.inner, self.seconds, self.runs = inner, 0.0, 0

    def run(self, names, feeds):
        start = time.process_time()
        out = self.inner.run(names, feeds)
        self.seconds += time.process_time() - start
        self.runs += len(next(iter(feeds.values())))
        return out


def measure(items: list[tuple[Path, bool, bool]], margin: float, sess) -> Measured:
    timed = TimedSession(sess)
    openness, ear, found = np.zeros((len(items), 2)), np.zeros((len(items), 2)), np.zeros(len(items), bool)
    landmarks_seconds = measures_seconds = 0.0
    for i, (path, _, _) in enumerate(items):
        rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        h, w = rgb.shape[:2]
        start = time.process_time()
        landmarks = mesh.face_landmarks(rgb, (0, 0, w, h), timed, margin=margin)
        landmarks_seconds += time.process_time() - start
        if landmarks is None:
            continue
        found[i] = True
        start = time.process_time()
        openness[i] = expressions.eye_openness(rgb, landmarks.points)
        expressions.smile(landmarks.points)
        expressions.head_pose(landmarks.points)
        measures_seconds += time.process_time() - start
        ear[i] = expressions.eye_aspect_ratios(landmarks.points)
    return Measured(np.array([c for _, c, _ in items]), np.array([k for _, _, k in items]), found, openness,
                    ear, timed.seconds, timed.runs, landmarks_seconds, measures_seconds)


def balanced(closed: np.ndarray, says_closed: np.ndarray, says_open: np.ndarray) -> tuple[float, float]:
    """Balanced accuracy (uncertain counted as wrong, uncertain left out)."""
    def recall(mask, right, decided):
        n = decided[mask].sum()
        return right[mask].sum() / mask.sum(), (right[mask].sum() / n if n else float("nan"))
    decided = says_closed | says_open
    c_all, c_dec = recall(closed, says_closed, decided)
    o_all, o_dec = recall(~closed, says_open, decided)
    return (c_all + o_all) / 2, (c_dec + o_dec) / 2


def best_single(values: np.ndarray, closed: np.ndarray, found: np.ndarray) -> tuple[float, float]:
    """(balanced accuracy, threshold) of the best single threshold, closed below it."""
    best = (0.0, 0.0)
    for t in np.unique(values[found]):
        ba, _ = balanced(closed, found & (values < t), found & (values >= t))
        best = max(best, (ba, float(t)))
    return best


def plateau(values: np.ndarray, closed: np.ndarray, found: np.ndarray, tolerance: float = 0.005,
            step: float = 0.05) -> tuple[float, float]:
    """(closed_below, open_above): the thresholds around the best one (on a 0.05 grid) that do within
    ``tolerance`` as well. Moving the threshold inside that band only trades closed misses for open
    ones: the measure cannot tell there, so the band is "uncertain"."""
    grid = np.round(np.arange(-3.0, 3.0 + step / 2, step), 2)
    scores = np.array([balanced(closed, found & (values < t), found & (values >= t))[0] for t in grid])
    best = int(scores.argmax())
    lo = hi = best
    while lo > 0 and scores[lo - 1] >= scores[best] - tolerance:
        lo -= 1
    while hi < len(grid) - 1 and scores[hi + 1] >= scores[best] - tolerance:
        hi += 1
    return float(grid[lo]) + 0.0, float(grid[hi]) + 0.0  # + 0.0: no "-0.00"


def report(name: str, values: np.ndarray, m: Measured, lo: float, hi: float) -> None:
    says_closed, says_open = m.found & (values < lo), m.found & (values > hi)
    for part, mask in (("calibration", m.calibration), ("held out", ~m.calibration), ("all", np.ones_like(m.found))):
        closed = m.closed[mask]
        ba_wrong, ba_decided = balanced(closed, says_closed[mask], says_open[mask])
        unc = ~(says_closed | says_open)[mask]
        print(f"  {name} {part:>11}: balanced accuracy {ba_wrong:.3f} (uncertain as wrong), "
              f"{ba_decided:.3f} (uncertain left out); uncertain {unc[closed].sum()}/{closed.sum()} closed, "
              f"{unc[~closed].sum()}/{(~closed).sum()} open")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--margins", type=float, nargs="+", default=[0.25, 0.5, 0.75, 1.0])
    args = parser.parse_args()
    items, sess = crops(), session()
    print(f"{len(items)} crops; calibration half {sum(k for *_, k in items)}, held out {sum(not k for *_, k in items)}")

    results, choices = {}, []
    for margin in args.margins:
        m = results[margin] = measure(items, margin, sess)
        cal = m.calibration
        line = [f"margin {margin:.2f}: no face {(~m.found).sum():3d};"]
        for comb, fn in COMBINATIONS.items():
            ba, t = best_single(fn(*m.openness.T)[cal], m.closed[cal], m.found[cal])
            choices.append((ba, margin, comb, t))
            line.append(f"openness {comb} {ba:.3f} @ {t:+.2f};")
        ear_ba, _ = best_single(m.ear.mean(axis=1)[cal], m.closed[cal], m.found[cal])
        line.append(f"EAR mean {ear_ba:.3f}")
        print(" ".join(line))

    ba, margin, comb, t = max(choices)
    m = results[margin]
    values = COMBINATIONS[comb](*m.openness.T)
    lo, hi = plateau(values[m.calibration], m.closed[m.calibration], m.found[m.calibration])
    middle = round((lo + hi) / 2, 2)
    print(f"\nchosen on the calibration half: margin {margin}, both eyes combined by {comb} "
          f"(best single threshold {t:+.3f}: balanced accuracy {ba:.3f})")
    print(f"uncertain band: closed_below = {lo:+.2f}, open_above = {hi:+.2f}")
    report("band", values, m, lo, hi)
    report(f"threshold {middle:+.2f} (band middle)", values, m, middle, middle)
    for label, mask in (("closed", m.closed & m.found), ("open", ~m.closed & m.found)):
        q = np.percentile(values[mask], [5, 25, 50, 75, 95])
        print(f"  openness of {label} eyes, percentiles 5/25/50/75/95: " + " ".join(f"{v:+.2f}" for v in q))
    n = len(items)
    print(f"\nCPU time per face, 1 thread, batch 1 ({m.runs} faces): Face Mesh session.run "
          f"{1000 * m.seconds / m.runs:.2f} ms; face_landmarks in all (crop, run, points back) "
          f"{1000 * m.landmarks_seconds / n:.2f} ms; eye_openness + smile + head_pose "
          f"{1000 * m.measures_seconds / m.found.sum():.2f} ms")


if __name__ == "__main__":
    main()
