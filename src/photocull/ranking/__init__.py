"""Ranking: how photos are judged, on their own and against each other."""
