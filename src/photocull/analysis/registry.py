"""The analysers a scan runs, in one list.

Adding an analyser means: a module with its record and measure function, an
entry here, and a catalog migration creating its table. Photos already in the
catalog then get just the new analyser's values on the next scan (their file
is decoded again, but no other analyser runs).
"""

from __future__ import annotations

from photocull.analysis import fingerprints, technical
from photocull.analysis.base import Analyser
from photocull.analysis.fingerprints import Fingerprints, measure_fingerprints
from photocull.analysis.technical import TechnicalQuality, measure_technical
from photocull.config import Settings
from photocull.ingest.decode import DecodedPhoto


def _technical(photo: DecodedPhoto, settings: Settings) -> TechnicalQuality:
    return measure_technical(photo.rgb, settings.technical)


def _fingerprints(photo: DecodedPhoto, settings: Settings) -> Fingerprints:
    return measure_fingerprints(photo.rgb)


ANALYSERS: tuple[Analyser, ...] = (
    Analyser(technical.ANALYSER, technical.VERSION, TechnicalQuality, _technical, "technical"),
    Analyser(fingerprints.ANALYSER, fingerprints.VERSION, Fingerprints, _fingerprints),
)


def stamps(settings: Settings) -> dict[str, str]:
    return {a.name: a.stamp(settings) for a in ANALYSERS}
