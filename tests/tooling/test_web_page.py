"""The shop page server without a browser: the page comes from the catalog, titles are escaped,
nothing outside bot/web/static is served."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from http.server import ThreadingHTTPServer

import pytest

from bot.web import serve


def test_the_page_lists_products_and_escapes_their_text():
    products = (
        {
            "id": "P1",
            "title": "<script>alert(1)</script> Boots",
            "description": "a & b",
            "price": 12.5,
            "rating": 4.2,
            "color": "navy",
            "category": "footwear",
            "subcategory": "boots",
            "brand": "X",
        },
    )
    page = serve.render_page(products, "http://127.0.0.1:5005", "Garden & Co")
    # The shop's own name and its own categories, never the demo's.
    assert "<title>Garden &amp; Co</title>" in page and "<h1>Garden &amp; Co</h1>" in page
    assert "<p>Footwear.</p>" in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; Boots" in page
    assert 'href="#P1"' in page and 'id="P1"' in page and "$12.50" in page and "rated 4.2 out of 5" in page
    assert 'data-rasa-url="http://127.0.0.1:5005"' in page
    assert "cdn" not in page.lower() and 'src="/vendor/socket.io.min.js"' in page


@pytest.fixture
def server(tmp_path, monkeypatch):
    catalog = tmp_path / "catalog.jsonl"
    catalog.write_text('{"id": "P1", "title": "Boots", "price": 10, "rating": 4}\n')
    monkeypatch.setenv("SHOP_CATALOG_PATH", str(catalog))
    serve.load_catalog.cache_clear()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), serve.Handler)
    httpd.rasa_url = "http://127.0.0.1:5005"  # type: ignore[attr-defined]
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def get(url: str) -> tuple[int, str, dict[str, str]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), dict(error.headers)


def test_the_server_serves_the_page_and_the_widget_only(server):
    status, body, headers = get(f"{server}/")
    assert status == 200 and "Boots" in body
    assert "connect-src 'self' http://127.0.0.1:5005" in headers["Content-Security-Policy"]
    assert get(f"{server}/static/widget.js")[0] == 200
    for path in ("/static/../serve.py", "/static/%2e%2e/serve.py", "/etc/passwd", "/static/nope.js"):
        assert get(f"{server}{path}")[0] == 404


def test_the_strap_line_names_the_largest_categories():
    products = tuple({"category": c} for c in ["tools"] * 3 + ["seeds"] * 2 + ["pots"])
    assert serve.catalog_summary(products) == "Tools, seeds and pots."
    assert serve.catalog_summary(products, most=1) == "Tools."
    assert serve.catalog_summary(()) == ""
