"""The review web app (`photocull serve`): FastAPI routes over the same library functions the CLI calls."""
