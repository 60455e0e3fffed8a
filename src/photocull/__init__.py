"""photocull: cull 1,000 to 100,000 photos; ingest, measure, group, rank and review."""

__version__ = "0.1.0"
