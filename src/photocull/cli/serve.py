"""``photocull serve``: the review web app on one catalog (docs/web.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from photocull.catalog.store import Catalog, default_catalog_path, find_catalog
from photocull.cli.options import CatalogOption, ConfigOption, PathOrURL, err, library_argument, open_catalog
from photocull.config import load_settings
from photocull.ingest.remote import is_url


def serve(
    path: Annotated[PathOrURL, library_argument(
        "A scanned folder (or any path inside it), or a folder without a catalog yet: an empty library filled "
        "by uploads; or a scanned URL (s3://bucket/prefix).")] = Path("."),
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

    Examples:

      photocull serve ~/Pictures/2024-trip   (then open http://127.0.0.1:8765/)

      photocull serve s3://bucket/photos/2024   (previews read the objects: docs/object-storage.md)
    """
    import uvicorn

    from photocull.web.app import create_app

    settings = load_settings(config, web={"host": host, "port": port, "token": token})
    if is_url(path):  # a bucket is never an empty library: its catalog comes from a scan
        with open_catalog(path, catalog) as found:
            catalog_path = found.path
    else:
        catalog_path = catalog or find_catalog(path)
    if catalog_path is None:  # an empty library, filled by uploads from the page
        if not path.is_dir():
            err.print(f"{path} is not a folder: give the library folder to serve (it may be empty)")
            raise typer.Exit(1)
        catalog_path = default_catalog_path(path)
        err.print(f"photocull: new empty library in {path.resolve()}: upload photos from the page")
    Catalog(catalog_path).close()  # created (with its folder) when new
    try:
        app = create_app(catalog_path, settings)
    except ValueError as exc:
        err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    web = settings.web
    shown = f"[{web.host}]" if ":" in web.host else web.host
    err.print(f"photocull: serving {catalog_path} on http://{shown}:{web.port}/ (API docs at /docs; Ctrl+C stops)")
    # An open event stream (GET /api/events) would hold the shutdown forever: give it 3 s.
    uvicorn.run(app, host=web.host, port=web.port, log_level="warning", timeout_graceful_shutdown=3)
