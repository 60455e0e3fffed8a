"""Grouping: which photos are copies of each other or the same moment."""
