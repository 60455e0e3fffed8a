#!/usr/bin/env python
"""Web front end in headless chromium: gallery, group review and large view over 100,000 photos.

The catalog is ``web_bench.make_catalog`` (20 scanned scene photos cloned into
100,000 synthetic rows). Its synthetic files do not exist on disk, so this
benchmark links each ``synthetic/NNNNNN.jpg`` to the scene photo whose
measurements it copies (the template ``n % 20`` in path order): previews are
then made from real pixels, once per content hash, as in a real library.

A real ``photocull serve`` runs in a child process on 127.0.0.1 and a free
port (stopped by its process id), and Debian's chromium is driven by
Playwright with the flags of ``tests/e2e/conftest.py``. Times are taken in the
page (``performance.now()``, checked every animation frame), from the key
press, the scroll or the navigation to the moment the condition holds:

* gallery: navigation to the first row of cards with their thumbnails decoded
  (the very first time without the thumbnails a scan writes, when the server
  makes them on request; then, after writing every synthetic photo's 256 px
  thumbnail as a scan does (:func:`make_thumbnails`, the scan's
  ``previews.webp_preview``), the first time with them; then with an empty
  browser cache each time, then on a reload with the thumbnails in the
  browser's cache); a jump of the
  scroll position to a new offset in the middle and near the end until the
  cards there are in the DOM with ``data-path`` set; after scrolling through
  20,000 photos and jumping across all 100,000, the number of ``.card``
  elements, DOM nodes and the JS heap (CDP ``Performance.getMetrics`` after a
  garbage collection);
* baseline: the naive page, every card at once: in the same app page, fetch
  all photos from ``/api/photos`` (pages of 500) and build 100,000 cards of the
  same markup in a plain CSS grid; time to the first row shown, DOM nodes, heap;
* review: J (next group) until the next group's members are in the DOM (and
  until the large preview of its pick is loaded), over 30 groups; P / X until
  the member's ``data-flag`` shows the API's answer;
* large view: ArrowRight until the next photo's 1024 px preview is loaded,
  pressed as soon as the previous one showed (the prefetch of the next photo
  has barely begun) and after a 600 ms pause (the prefetch done).

Prints a table and writes ``bench/results/web_browser.json``.

Usage::

    python bench/web_browser_bench.py [--photos 100000] [--repeat 30]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]
from tests.served import Server  # noqa: E402
from web_bench import CORPUS, make_catalog, percentiles, write_results  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--enable-precise-memory-info"]
VIEWPORT = {"width": 1280, "height": 800}

# In-page helpers: wait for a condition, checked every animation frame, and return when it held.
HELPERS = """
window.__until = (cond, limit = 30000) => new Promise((resolve, reject) => {
  const t0 = performance.now();
  const tick = () => {
    let ok = false;
    try { ok = cond(); } catch (e) { ok = false; }
    if (ok) resolve(performance.now());
    else if (performance.now() - t0 > limit) reject(new Error('timed out: ' + cond));
    else requestAnimationFrame(tick);
  };
  tick();
});
// Arm a measurement: the next keydown starts the clock, `cond` stops it.
window.__arm = (cond) => {
  window.__done = null;
  window.addEventListener('keydown', () => {
    const t0 = performance.now();
    window.__until(cond).then((t) => { window.__done = t - t0; }, (e) => { window.__done = -1; });
  }, { capture: true, once: true });
};
window.__imgReady = (img) => img && img.complete && img.naturalWidth > 0;
"""


def stats(values_ms: list[float]) -> dict[str, float]:
    return percentiles(values_ms, digits=1)


def link_synthetic_files(library: Path, photos: int) -> None:
    """Give every synthetic row the pixels of its template scene photo (a symbolic link)."""
    templates = sorted(p.name for p in (CORPUS / "scenes").iterdir() if p.is_file())
    folder = library / "synthetic"
    folder.mkdir(exist_ok=True)
    for n in range(photos):
        (folder / f"{n:06d}.jpg").symlink_to(library / "scenes" / templates[n % len(templates)])


def make_thumbnails(library: Path, photos: int) -> int:
    """The 256 px thumbnails a scan writes (``scan.thumbnails``), for every synthetic row.

    As in the scan: each template decoded once to its working copy (the scan's
    decoder and settings) and made into WebP by the scan's own function
    (``previews.webp_preview``); those bytes are then written, atomically, as the
    thumbnail of every synthetic content hash cloned from that template (the
    pixels are the same, so a scan would write the same bytes). Returns the files written.
    """
    from photocull.config import Settings
    from photocull.files import write_atomic
    from photocull.ingest.decode import decode
    from photocull.previews import THUMBNAIL_SIZE, preview_path, webp_preview

    settings = Settings()
    cache = library / ".photocull" / "previews"
    templates = sorted(p for p in (CORPUS / "scenes").iterdir() if p.is_file())
    webps = [webp_preview(decode(t.read_bytes(), t, settings.ingest).rgb, THUMBNAIL_SIZE) for t in templates]
    for n in range(photos):
        write_atomic(preview_path(cache, f"{n:064x}", THUMBNAIL_SIZE), webps[n % len(webps)], durable=False)
    return photos


def heap(page) -> dict[str, float]:
    """DOM nodes, `.card` elements and the JS heap after a garbage collection (CDP)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("HeapProfiler.enable")
    cdp.send("HeapProfiler.collectGarbage")
    cdp.send("Performance.enable")
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    cdp.detach()
    return {"cards": page.evaluate("document.querySelectorAll('.card').length"),
            "dom_nodes": page.evaluate("document.getElementsByTagName('*').length"),
            "cdp_nodes": int(metrics.get("Nodes", 0)),
            "js_heap_mb": round(metrics["JSHeapUsedSize"] / 2**20, 1)}


def press_for_next_group(page, key: str, cond: str) -> float:
    """:func:`press_and_time`, where ``cond`` waits for a group other than the one shown now."""
    page.evaluate("window.__group = document.getElementById('review').dataset.group")
    return press_and_time(page, key, cond)


def press_and_time(page, key: str, cond: str) -> float:
    page.evaluate(f"() => window.__arm(() => {{ {cond} }})")
    page.keyboard.press(key)
    page.wait_for_function("window.__done !== null", timeout=60000)
    return page.evaluate("window.__done")


FIRST_ROW = """
const cards = [...document.querySelectorAll('#gallery .card')];
const byIndex = new Map(cards.map((c) => [Number(c.dataset.index), c]));
const first = byIndex.get(0);
if (!first || !first.dataset.path) return false;
const y = first.style.transform.split(',')[1];
const row = cards.filter((c) => c.style.transform.split(',')[1] === y);
return row.length > 0 && row.every((c) => c.dataset.path && window.__imgReady(c.querySelector('img')));
"""


def first_row(browser, url: str):
    """A new browser context (empty cache) navigates to the gallery: (ms to the first row, context, page)."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.add_init_script(HELPERS)
    page.goto(url + "/#/gallery", wait_until="commit")
    # performance.now() counts from the navigation's start.
    return page.evaluate(f"() => window.__until(() => {{ {FIRST_ROW} }}, 120000)"), context, page


def gallery(browser, url: str, repeat: int, photos: int, library: Path) -> tuple[dict, dict, dict]:
    rows, memory, extra = {}, {}, {}
    # First row of cards with thumbnails decoded: the very first visit without the scan's thumbnails
    # (the server makes them on request), then the thumbnails written as a scan writes them and a
    # first visit again, then warm.
    ms, context, _ = first_row(browser, url)
    context.close()
    rows["gallery: first row with thumbnails, first visit (no scan thumbnails: made on request)"] = stats([ms])
    shutil.rmtree(library / ".photocull" / "previews", ignore_errors=True)
    began = time.perf_counter()
    extra["scan_thumbnails_written"] = make_thumbnails(library, photos)
    extra["scan_thumbnails_write_s"] = round(time.perf_counter() - began, 1)
    ms, context, _ = first_row(browser, url)
    context.close()
    rows["gallery: first row with thumbnails, first visit (thumbnails from the scan)"] = stats([ms])
    first_ms = []
    for attempt in range(repeat):
        ms, context, page = first_row(browser, url)
        first_ms.append(ms)
        if attempt < repeat - 1:
            context.close()
    rows["gallery: first row with thumbnails, server cache warm"] = stats(first_ms)
    reload_ms = []
    for _ in range(repeat):  # a reload: the thumbnails in the browser's cache (immutable)
        page.reload(wait_until="commit")
        reload_ms.append(page.evaluate(f"() => window.__until(() => {{ {FIRST_ROW} }}, 120000)"))
    rows["gallery: first row with thumbnails, reload (browser cache warm)"] = stats(reload_ms)
    layout = page.evaluate("""() => {
      const cards = [...document.querySelectorAll('#gallery .card')];
      const ys = [...new Set(cards.map((c) => Number(c.style.transform.split(',')[1].replace('px)', ''))))].sort((a, b) => a - b);
      const cols = cards.filter((c) => c.style.transform.endsWith(` ${ys[0]}px)`) || c.style.transform.endsWith(`,${ys[0]}px)`)).length;
      const g = document.getElementById('gallery');
      return { cols, rowH: ys[1] - ys[0], top: g.getBoundingClientRect().top + window.scrollY,
               total: Number(document.getElementById('gallery-total').dataset.total) };
    }""")
    assert layout["total"] == photos, layout
    memory["after first page"] = heap(page)

    jump = """async ([index, layout]) => {
      const y = layout.top + Math.floor(index / layout.cols) * layout.rowH - 100;
      const t0 = performance.now();
      window.scrollTo(0, y);
      const t1 = await window.__until(() => {
        const first = Math.floor(index / layout.cols) * layout.cols;
        for (let i = first; i < first + layout.cols && i < layout.total; i++) {
          const c = document.querySelector(`#gallery .card[data-index="${i}"]`);
          if (!c || !c.dataset.path) return false;
        }
        return true;
      });
      return t1 - t0;
    }"""
    for where, base in (("middle", photos // 2), ("end", photos - 1)):
        times = []
        for k in range(repeat):
            # A new offset each time (another page of 100 than any before): nothing fetched yet.
            index = base + k * 317 if where == "middle" else base - k * 317
            times.append(page.evaluate(jump, [index, layout]))
            page.evaluate(jump, [0, layout])
        rows[f"gallery: jump to the {where} (cards there in the DOM)"] = stats(times)

    # Scroll through 20,000 photos a screen at a time, then jump across the whole catalog.
    scroll = """async ([layout, upto]) => {
      let maxCards = 0;
      const end = layout.top + Math.floor(upto / layout.cols) * layout.rowH;
      for (let y = 0; y < end; y += window.innerHeight) {
        window.scrollTo(0, y);
        const index = Math.floor(Math.max(0, y - layout.top) / layout.rowH) * layout.cols;
        await window.__until(() => { const c = document.querySelector(`#gallery .card[data-index="${index}"]`);
                                     return c && c.dataset.path; });
        maxCards = Math.max(maxCards, document.querySelectorAll('.card').length);
      }
      return maxCards;
    }"""
    max_cards = page.evaluate(scroll, [layout, min(photos, 20_000)])
    for k in range(100):
        max_cards = max(max_cards, page.evaluate(
            "async ([i, l]) => { await (" + jump + ")([i, l]); return document.querySelectorAll('.card').length; }",
            [min(photos - 1, k * (photos // 100) + 50), layout]))
    memory["after scrolling 20,000 and jumping across all"] = heap(page)
    memory["after scrolling 20,000 and jumping across all"]["max_cards"] = max_cards
    context.close()
    return rows, memory, extra


NAIVE = """async ([total]) => {
  const t0 = performance.now();
  const pages = [];
  for (let offset = 0; offset < total; offset += 500) {
    pages.push(fetch(`/api/photos?offset=${offset}&limit=500&sort=score`).then((r) => r.json()));
  }
  const photos = (await Promise.all(pages)).flatMap((p) => p.photos);
  const fetched = performance.now();
  const grid = document.createElement('div');
  grid.id = 'naive';
  grid.style.cssText = 'display:grid;grid-template-columns:repeat(auto-fill,minmax(180px,1fr));gap:8px;--img-h:150px';
  const frag = document.createDocumentFragment();
  photos.forEach((p, i) => {
    const card = document.createElement('button');
    card.className = 'card'; card.type = 'button'; card.title = p.path;
    card.style.position = 'static'; card.style.width = 'auto';
    card.dataset.path = p.path; card.dataset.index = i;
    const img = document.createElement('img');
    img.src = `/previews/${p.content_hash}/256`; img.loading = 'lazy'; img.decoding = 'async'; img.alt = p.path;
    const bar = document.createElement('div'); bar.className = 'score-bar';
    const fillEl = document.createElement('span'); fillEl.style.width = `${Math.round((p.score || 0) * 100)}%`;
    bar.append(fillEl);
    const meta = document.createElement('div'); meta.className = 'meta';
    const st = document.createElement('span'); st.className = 'stars'; st.textContent = '★'.repeat(p.decision?.rating || 0);
    const badges = document.createElement('span'); badges.className = 'badges';
    const sc = document.createElement('span'); sc.className = 'score'; sc.textContent = (p.score || 0).toFixed(2);
    meta.append(st, badges, sc);
    card.append(img, bar, meta);
    frag.append(card);
  });
  const view = document.getElementById('view');
  view.replaceChildren(grid);
  grid.append(frag);
  const built = performance.now();
  // The first row shown: layout done and painted, its thumbnails decoded.
  const row = [...grid.children].slice(0, 6);
  await window.__until(() => row.every((c) => window.__imgReady(c.querySelector('img'))), 120000);
  await new Promise((r) => requestAnimationFrame(() => r()));
  const shown = performance.now();
  // Jump to the middle: the browser lays out and paints a 100,000-card grid.
  const s0 = performance.now();
  window.scrollTo(0, document.body.scrollHeight / 2);
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r())));
  const scrolled = performance.now();
  return { fetch_ms: fetched - t0, build_ms: built - fetched, first_row_ms: shown - t0,
           jump_ms: scrolled - s0 };
}"""


def naive(browser, url: str, photos: int, repeat: int) -> tuple[dict, dict]:
    rows, memory = {}, {}
    runs = []
    for _ in range(repeat):
        context = browser.new_context(viewport=VIEWPORT)
        page = context.new_page()
        page.add_init_script(HELPERS)
        page.goto(url + "/#/stats")
        page.wait_for_load_state("networkidle")
        runs.append(page.evaluate(NAIVE, [photos]))
        if len(runs) < repeat:
            context.close()
    memory["naive: every card at once"] = heap(page)
    context.close()
    for key, name in (("first_row_ms", "baseline (naive): first row with thumbnails"),
                      ("fetch_ms", "baseline (naive): fetch every photo (200 x 500)"),
                      ("build_ms", "baseline (naive): build 100,000 cards"),
                      ("jump_ms", "baseline (naive): jump to the middle (two frames)")):
        rows[name] = stats([r[key] for r in runs])
    return rows, memory


MEMBERS_SHOWN = """
const s = document.getElementById('review');
if (!s || s.dataset.group === window.__group) return false;
const cards = s.querySelectorAll('.member[data-path]');
return cards.length > 0 && document.querySelector('#review .stage-info .path');
"""
STAGE_LOADED = """
const s = document.getElementById('review');
if (!s || s.dataset.group === window.__group) return false;
const img = s.querySelector('.stage img');
return window.__imgReady(img) && img.src.endsWith('/1024');
"""


def review(browser, url: str, groups: int) -> dict:
    rows = {}
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.add_init_script(HELPERS)
    page.goto(url + "/#/review")
    page.wait_for_selector("#review .member[data-path]")
    shown = []
    for _ in range(groups):
        shown.append(press_for_next_group(page, "j", MEMBERS_SHOWN))
        # The large preview of the pick: wait for it (the next J starts from a settled page).
        page.wait_for_function(f"() => {{ {STAGE_LOADED} }}", polling="raf", timeout=60000)
    rows["review: J, next group's members shown"] = stats(shown)
    back = []
    for _ in range(groups):
        back.append(press_for_next_group(page, "k", MEMBERS_SHOWN))
        page.wait_for_function(f"() => {{ {STAGE_LOADED} }}", polling="raf", timeout=60000)
    rows["review: K, previous group's members shown (seen before)"] = stats(back)
    # J then the stage's 1024 preview loaded, previews cold: measured separately on fresh groups.
    stage = []
    page.goto(url + "/#/review")
    page.wait_for_selector("#review .member[data-path]")
    # Move past every group seen so far, then time J until the pick's 1024 preview is loaded.
    for _ in range(groups):
        press_for_next_group(page, "j", MEMBERS_SHOWN)
    for _ in range(groups):
        stage.append(press_for_next_group(page, "j", STAGE_LOADED))
    rows["review: J, pick's 1024 preview loaded (preview made on request)"] = stats(stage)
    # P / X on the current member until its card shows the API's answer.
    decided = []
    for k in range(groups):
        key = "x" if k % 2 == 0 else "p"
        want = "reject" if key == "x" else "keep"
        decided.append(press_and_time(
            page, key, f"const c = document.querySelector('#review .member.current'); "
                       f"return c && c.dataset.flag === '{want}';"))
    rows["review: P / X until data-flag shows the saved decision"] = stats(decided)
    context.close()
    return rows


def large_view(browser, url: str, steps: int) -> dict:
    rows = {}
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.add_init_script(HELPERS)
    page.goto(url + "/#/gallery")
    page.wait_for_selector("#gallery .card[data-path]")
    # Open the large view on a photo far from everything seen before (previews not made yet).
    page.evaluate("""async () => {
      window.scrollTo(0, document.body.scrollHeight * 0.3);
      await window.__until(() => document.querySelector('#gallery .card[data-path]'));
    }""")
    page.wait_for_timeout(300)
    page.locator("#gallery .card[data-path]").nth(8).click()
    page.wait_for_function("() => window.__imgReady(document.querySelector('#viewer img.large'))", timeout=60000)
    cond = ("const v = document.getElementById('viewer'); const img = v.querySelector('img.large'); "
            "return v.dataset.path !== window.__path && window.__imgReady(img) && img.src.endsWith('/1024');")
    for name, pause in (("at once", 0), ("after 600 ms", 600)):
        times = []
        for _ in range(steps):
            page.evaluate("window.__path = document.getElementById('viewer').dataset.path")
            times.append(press_and_time(page, "ArrowRight", cond))
            if pause:
                page.wait_for_timeout(pause)
        rows[f"large view: ArrowRight until the 1024 preview is shown ({name})"] = stats(times)
    context.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20, help="navigations and jumps per row")
    parser.add_argument("--groups", type=int, default=30, help="groups stepped through, keys pressed")
    parser.add_argument("--baseline-repeat", type=int, default=3)
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = parser.parse_args()
    os.environ.setdefault("PHOTOCULL_MODELS_DIR", str(HERE.parent / ".cache" / "models"))
    from playwright.sync_api import sync_playwright

    results: dict[str, object] = {"photos": args.photos, "repeat": args.repeat, "cpus": os.cpu_count(),
                                  "load_before": os.getloadavg(), "viewport": VIEWPORT}
    rows: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        library = Path(tmp) / "library"
        make_catalog(library, args.photos)
        link_synthetic_files(library, args.photos)
        results["build_catalog_s"] = round(time.perf_counter() - began, 1)
        server = Server(library, Path(tmp) / "serve.log", start_timeout=300)
        results["server_startup_s"] = server.startup_s
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
                results["chromium"] = browser.version
                got, memory, extra = gallery(browser, server.url, args.repeat, args.photos, library)
                rows.update(got)
                results.update(extra)
                got, naive_memory = naive(browser, server.url, args.photos, args.baseline_repeat)
                rows.update(got)
                memory.update(naive_memory)
                rows.update(review(browser, server.url, args.groups))
                rows.update(large_view(browser, server.url, args.groups))
                browser.close()
        finally:
            server.stop()
    ours = rows["gallery: first row with thumbnails, server cache warm"]["p50_ms"]
    theirs = rows["baseline (naive): first row with thumbnails"]["p50_ms"]
    scrolled = memory["after scrolling 20,000 and jumping across all"]
    naive_mem = memory["naive: every card at once"]
    ratios = {"first_row_time_naive_over_ours": round(theirs / ours, 1),
              "dom_nodes_naive_over_ours": round(naive_mem["dom_nodes"] / scrolled["dom_nodes"], 1),
              "js_heap_naive_over_ours": round(naive_mem["js_heap_mb"] / scrolled["js_heap_mb"], 1)}
    results.update(timings=rows, memory=memory, ratios=ratios, load_after=os.getloadavg())
    width = max(map(len, rows))
    print(f"{args.photos:,} photos; catalog built in {results['build_catalog_s']} s, "
          f"server up in {results['server_startup_s']} s; chromium {results.get('chromium')}; "
          f"load {results['load_before'][0]:.1f} -> {results['load_after'][0]:.1f}")
    print(f"{'measure':<{width}}  {'p50 ms':>8}  {'p95 ms':>8}  {'max ms':>8}  {'n':>3}")
    for name, row in rows.items():
        print(f"{name:<{width}}  {row['p50_ms']:>8.1f}  {row['p95_ms']:>8.1f}  {row['max_ms']:>8.1f}  {row['n']:>3}")
    print(f"\n{'page state':<50}  {'.card':>7}  {'DOM nodes':>9}  {'JS heap MB':>10}")
    for name, m in memory.items():
        print(f"{name:<50}  {m['cards']:>7}  {m['dom_nodes']:>9}  {m['js_heap_mb']:>10.1f}"
              + (f"  (at most {m['max_cards']} cards while scrolling)" if "max_cards" in m else ""))
    print("ratios (naive / ours):", ", ".join(f"{k} {v}" for k, v in ratios.items()))
    write_results(results, "web_browser.json")


if __name__ == "__main__":
    main()
