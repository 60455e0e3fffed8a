"""Faces: detection (BlazeFace), landmarks (Face Mesh), eyes, smile and pose; identity comes later."""
