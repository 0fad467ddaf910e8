"""The demo shop: seeded data generator (`shop.generate`), the shop DB access module (`shop.db`)
and the knowledge base (`shop/kb/`). Run `python -m shop generate --help`."""
