"""The analysers photocull has, in one list, and the ones a scan runs.

Adding an analyser means: a module with its record and measure (or prepare and
infer) functions, an entry here, and a catalog migration creating its table.
Photos already in the catalog then get just the new analyser's values on the
next scan (their file is decoded again, but no other analyser runs).
"""

from __future__ import annotations

from photocull.analysis import fingerprints, technical
from photocull.analysis.aesthetic import AESTHETIC
from photocull.analysis.base import Analyser, NeuralAnalyser
from photocull.analysis.clip import CLIP
from photocull.analysis.embedding import EMBEDDING
from photocull.analysis.faces.analyser import FACES
from photocull.analysis.fingerprints import Fingerprints, measure_fingerprints
from photocull.analysis.technical import TechnicalQuality, measure_technical
from photocull.config import ConfigError, Settings
from photocull.ingest.decode import DecodedPhoto


def _technical(photo: DecodedPhoto, settings: Settings) -> TechnicalQuality:
    return measure_technical(photo.rgb, settings.technical)


def _fingerprints(photo: DecodedPhoto, settings: Settings) -> Fingerprints:
    return measure_fingerprints(photo.rgb)


ANALYSERS: tuple[Analyser | NeuralAnalyser, ...] = (
    Analyser(technical.ANALYSER, technical.VERSION, TechnicalQuality, _technical, "technical"),
    Analyser(fingerprints.ANALYSER, fingerprints.VERSION, Fingerprints, _fingerprints),
    AESTHETIC,
    EMBEDDING,
    FACES,
    CLIP,
)
BY_NAME = {a.name: a for a in ANALYSERS}


def selected(settings: Settings) -> tuple[Analyser | NeuralAnalyser, ...]:
    """The analysers ``settings.scan.analysers`` names, in pipeline order."""
    unknown = [name for name in settings.scan.analysers if name not in BY_NAME]
    if unknown:
        raise ConfigError(f"unknown analyser {', '.join(map(repr, unknown))}: choose from {', '.join(BY_NAME)}")
    return tuple(a for a in ANALYSERS if a.name in settings.scan.analysers)


def stamps(settings: Settings) -> dict[str, str]:
    """The current stamp of each selected analyser."""
    return {a.name: a.stamp(settings) for a in selected(settings)}
