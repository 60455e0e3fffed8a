"""Catalog: the SQLite database that remembers files, photos and measurements."""
