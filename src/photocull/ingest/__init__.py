"""Ingest: find photo files (folders, files, ZIP archives) and decode them once."""
