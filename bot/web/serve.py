"""The shop's web page with the chat widget: a small standard-library server.

    python bot/web/serve.py --host 127.0.0.1 --port 8080

The page is generated from the catalog (SHOP_CATALOG_PATH, default data/catalog.jsonl): a header,
a product grid and a detail section per product (#P0001). The widget (static/widget.js) talks to
the Rasa server's socket.io channel at SHOP_RASA_URL; socket.io-client is vendored from npm by
`make web` (bot/web/package-lock.json), so nothing is fetched from a CDN.
"""

from __future__ import annotations

import argparse
import html
import json
import sys
from functools import lru_cache
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from retrieval.catalog import product_colors
from shop.money import product_price
from shop.settings import current

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
STATIC = HERE / "static"
VENDOR = HERE / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
PALETTE = {
    "black": "#222",
    "white": "#f4f4f4",
    "grey": "#9aa0a6",
    "navy": "#1f2f5a",
    "blue": "#3b6fd8",
    "red": "#c8453b",
    "green": "#3f8f5a",
    "brown": "#7a5230",
    "beige": "#d9c7a5",
    "pink": "#e58fb4",
    "purple": "#7d57b8",
    "yellow": "#e8c547",
    "orange": "#e8873a",
    "silver": "#c0c4c8",
}


def catalog_path() -> Path:
    return current().catalog_path


@lru_cache(maxsize=1)
def load_catalog(path: str) -> tuple[dict[str, Any], ...]:
    with open(path, encoding="utf-8") as handle:
        return tuple(json.loads(line) for line in handle if line.strip())


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def placeholder(product: dict[str, Any]) -> str:
    colour = PALETTE.get(str(product.get("color", "")).lower(), "#bbb")
    ink = "#333" if colour in ("#f4f4f4", "#d9c7a5", "#c0c4c8", "#e8c547") else "#fff"
    label = esc(str(product.get("subcategory") or product.get("category") or "")[:18])
    return (
        f'<svg class="ph" viewBox="0 0 160 120" role="img" aria-label="{esc(product["title"])}">'
        f'<rect width="160" height="120" rx="8" fill="{colour}" opacity="0.85"/>'
        f'<text x="80" y="66" text-anchor="middle" font-size="13" fill="{ink}">{label}</text></svg>'
    )


def stars(rating: Any) -> str:
    value = float(rating or 0)
    shown = "★" * round(value) + "☆" * (5 - round(value))
    return f'<span class="stars" aria-label="rated {value:.1f} out of 5">{shown} {value:.1f}</span>'


def catalog_summary(products: tuple[dict[str, Any], ...], most: int = 6) -> str:
    """The catalog's largest categories, as the page's strap line ("Footwear, clothing and home.")."""
    counts: dict[str, int] = {}
    for product in products:
        category = str(product.get("category") or "").strip().lower()
        if category:
            counts[category] = counts.get(category, 0) + 1
    names = sorted(counts, key=lambda name: (-counts[name], name))[:most]
    if not names:
        return ""
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    return f"{listed[0].upper()}{listed[1:]}."


def render_page(products: tuple[dict[str, Any], ...], rasa_url: str, shop_name: str = "") -> str:
    cards, details = [], []
    for p in products:
        pid = esc(p["id"])
        colors = ", ".join(product_colors(p))
        cards.append(
            f'<li class="product"><a href="#{pid}" data-product-id="{pid}">{placeholder(p)}'
            f'<span class="title">{esc(p["title"])}</span></a>'
            f'<span class="price">{esc(product_price(p))}</span>{stars(p.get("rating"))}</li>'
        )
        details.append(
            f'<section class="detail" id="{pid}" aria-labelledby="h-{pid}"><h2 id="h-{pid}">{esc(p["title"])}</h2>'
            f"{placeholder(p)}<p>{esc(p.get('description', ''))}</p>"
            f'<p class="price">{esc(product_price(p))} · {esc(p.get("brand", ""))} · {esc(colors)}</p>'
            f'{stars(p.get("rating"))}<p><a href="#top">Back to all products</a></p></section>'
        )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(shop_name or "Shop")}</title><link rel="stylesheet" href="/static/widget.css"></head>
<body data-rasa-url="{esc(rasa_url)}"><a id="top"></a>
<header class="site"><h1>{esc(shop_name or "Shop")}</h1><p>{esc(catalog_summary(products))}</p></header>
<main><h2 class="visually-hidden">Products</h2><ul class="grid">{"".join(cards)}</ul>{"".join(details)}</main>
<script src="/vendor/socket.io.min.js"></script><script src="/static/widget.js"></script>
</body></html>"""


class Handler(BaseHTTPRequestHandler):
    server_version = "ShopPage/1"

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        rasa_url: str = self.server.rasa_url  # type: ignore[attr-defined]
        self.send_header(
            "Content-Security-Policy",
            f"default-src 'self'; connect-src 'self' {rasa_url} "
            f"{rasa_url.replace('http', 'ws', 1)}; img-src 'self' data:; style-src 'self'",
        )
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 (the http.server API)
        path = self.path.split("?", 1)[0]
        if path in ("/", "/index.html"):
            try:
                page = render_page(load_catalog(str(catalog_path())), self.server.rasa_url, current().shop_name)  # type: ignore[attr-defined]
            except FileNotFoundError:
                self._send(HTTPStatus.SERVICE_UNAVAILABLE, b"catalog missing: run `make data`", "text/plain")
                return
            self._send(HTTPStatus.OK, page.encode("utf-8"), "text/html; charset=utf-8")
            return
        if path == "/vendor/socket.io.min.js":
            if not VENDOR.exists():
                self._send(HTTPStatus.SERVICE_UNAVAILABLE, b"socket.io-client missing: run `make web`", "text/plain")
                return
            self._send(HTTPStatus.OK, VENDOR.read_bytes(), TYPES[".js"])
            return
        if path.startswith("/static/"):
            file = (STATIC / path[len("/static/") :]).resolve()
            if file.is_file() and STATIC in file.parents and file.suffix in TYPES:
                self._send(HTTPStatus.OK, file.read_bytes(), TYPES[file.suffix])
                return
        self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the http.server API)
        sys.stderr.write(f"web: {format % args}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    settings = current()
    parser.add_argument("--host", default=settings.host)
    parser.add_argument("--port", type=int, default=settings.web_port)
    parser.add_argument("--rasa-url", default=settings.rasa_url)
    args = parser.parse_args(argv)
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.rasa_url = args.rasa_url.rstrip("/")  # type: ignore[attr-defined]
    print(f"shop page on http://{args.host}:{args.port}/ (chat via {server.rasa_url})", flush=True)  # type: ignore[attr-defined]
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
