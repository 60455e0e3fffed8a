"""``photocull serve``: the review web app on one catalog (docs/web.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from photocull.cli.options import CatalogOption, ConfigOption, err, open_catalog
from photocull.config import load_settings


def serve(
    path: Annotated[Path, typer.Argument(help="A scanned folder (or any path inside it).")] = Path("."),
    host: Annotated[Optional[str], typer.Option("--host", help="Address to listen on (default 127.0.0.1; "
                                                 "any other needs --token).")] = None,
    port: Annotated[Optional[int], typer.Option("--port", min=1, max=65535, help="Port (default 8765).")] = None,
    token: Annotated[Optional[str], typer.Option("--token", envvar="PHOTOCULL_WEB_TOKEN",
                                                  help="Password every request must carry.")] = None,
    catalog: CatalogOption = None,
    config: ConfigOption = None,
) -> None:
    """Serve the review web app: gallery, groups, decisions, previews; the API's docs at /docs.

    Listens on 127.0.0.1 only unless --host says otherwise, which then requires --token.

    Example:  photocull serve ~/Pictures/2024-trip   (then open http://127.0.0.1:8765/)
    """
    import uvicorn

    from photocull.web.app import create_app

    settings = load_settings(config, web={"host": host, "port": port, "token": token})
    with open_catalog(path, catalog) as cat:
        catalog_path = cat.path
    try:
        app = create_app(catalog_path, settings)
    except ValueError as exc:
        err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    web = settings.web
    shown = f"[{web.host}]" if ":" in web.host else web.host
    err.print(f"photocull: serving {catalog_path} on http://{shown}:{web.port}/ (API docs at /docs; Ctrl+C stops)")
    uvicorn.run(app, host=web.host, port=web.port, log_level="warning")
