"""shop/settings.py is the one reader of the environment, and the README's table is its table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shop import settings

ROOT = Path(__file__).resolve().parents[2]
# Reading a variable, in any of the usual spellings; copying the whole environment for a child
# process (`{**os.environ, ...}`) and setting a variable are not reads.
_READ = re.compile(
    r"os\.environ\.get\(|os\.getenv\(|os\.environ\[[^]]+\](?!\s*=[^=])|environ\.get\(|\"[A-Z_]+\" in os\.environ"
)


def test_the_readme_configuration_table_is_the_settings_table():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- settings table:[^\n]*-->\n(.*?)\n<!-- end of settings table -->", readme, re.S)
    assert found, "README.md lost its settings table markers"
    assert found.group(1) == settings.markdown_table(), "README.md is stale: paste `python -m shop.settings` into it"


@pytest.mark.parametrize("package", ["actions", "retrieval", "shop", "bot"])
def test_no_module_but_the_settings_module_reads_the_environment(package):
    readers = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted((ROOT / package).rglob("*.py"))
        if path != ROOT / "shop" / "settings.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if _READ.search(line)
    ]
    assert readers == []


def test_every_setting_parses_from_its_default_and_bad_numbers_are_named():
    defaults = settings.Settings.from_env({})
    assert defaults.max_message_chars == 2000 and defaults.kb_min_confidence is None
    assert defaults.catalog_path == ROOT / "data" / "catalog.jsonl"
    with pytest.raises(ValueError, match="SHOP_RETURN_WINDOW_DAYS must be a whole number"):
        settings.Settings.from_env({"SHOP_RETURN_WINDOW_DAYS": "thirty"})
    with pytest.raises(ValueError, match="SHOP_KB_MIN_CONFIDENCE must be a number between 0 and 1"):
        settings.Settings.from_env({"SHOP_KB_MIN_CONFIDENCE": "2"})
