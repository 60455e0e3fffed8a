#!/usr/bin/env python
"""Where ``rules.min_face_sharpness`` sits: face sharpness of the corpus's faces, sharp and blurred.

Every photo of ``../shared/corpus/faces`` as it is and Gaussian-blurred
(sigma 1-3 px at full resolution), through the faces analyser; prints the
distribution of face sharpness per sigma and every sharp face's value.
docs/people.md quotes the result.

Usage::

    python bench/calibrate_face_sharpness.py
"""
import io
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from photocull.config import Settings
from photocull.ingest.decode import decode
from photocull.analysis.faces.analyser import measure_faces

settings = Settings()
corpus = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "faces"
paths = sorted(corpus.rglob("*.jp*g"))
sigmas = (0, 1, 1.5, 2, 3)
rows = []
for path in paths:
    rgb = np.asarray(Image.open(path).convert("RGB"))
    for sigma in sigmas:
        img = rgb if sigma == 0 else cv2.GaussianBlur(rgb, (0, 0), sigma)
        buf = io.BytesIO(); Image.fromarray(img).save(buf, "PNG")
        photo = decode(buf.getvalue(), path.name + ".png", settings.ingest)
        scan = measure_faces(photo, settings)
        for f in scan.faces:
            w = (f.x1 - f.x0) * rgb.shape[1]
            rows.append((path.name, f.face_index, sigma, round(w), f.sharpness))
for sigma in sigmas:
    vals = [r[4] for r in rows if r[2] == sigma and r[4] is not None]
    print(sigma, "n", len(vals), "min %.2f p10 %.2f median %.2f max %.2f" % (min(vals), np.percentile(vals, 10), np.median(vals), max(vals)))
for r in rows:
    if r[2] == 0: print(r)
