"""What every analyser is: a name, a version, the record it produces, and a function.

The catalog stores, next to each record, the *stamp* of the analyser that made
it: its version plus a digest of the settings that shape its values. A new
version or a changed threshold makes the stored record stale, and the next
scan recomputes exactly that, for the photos concerned.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from photocull.config import Settings
from photocull.ingest.decode import DecodedPhoto


@dataclass(frozen=True, slots=True)
class Analyser:
    name: str  # also the catalog table that holds its records
    version: int
    record: type  # a frozen dataclass of scalar fields
    measure: Callable[[DecodedPhoto, Settings], Any]
    settings_section: str | None = None  # the config section its values depend on

    def stamp(self, settings: Settings) -> str:
        if self.settings_section is None:
            return str(self.version)
        section = getattr(settings, self.settings_section).model_dump(mode="json")
        digest = hashlib.sha256(json.dumps(section, sort_keys=True).encode()).hexdigest()[:8]
        return f"{self.version}+{digest}"
