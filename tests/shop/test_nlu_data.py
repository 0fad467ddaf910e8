"""A shop that is not the demo: its catalog and documents become NLU data and its products are
searched (tests/shop/data/garden-shop: ten garden tools in another domain, with a column mapping)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from retrieval.catalog import read_catalog
from shop.nlu_data import catalog_vocabulary, write_nlu_data
from shop.onboard import OnboardError, onboard

GARDEN = Path(__file__).parent / "data" / "garden-shop"


@pytest.fixture
def garden(tmp_path: Path):
    data, nlu = tmp_path / "data", tmp_path / "build" / "nlu"
    report = onboard(
        GARDEN / "catalog.csv",
        GARDEN / "kb",
        GARDEN / "mapping.json",
        data_dir=data,
        nlu_dir=nlu,
        database_url=f"sqlite:///{tmp_path / 'shop.db'}",
    )
    return report, data, nlu


def nlu_blocks(folder: Path) -> dict[str, list[str]]:
    """{"lookup:NAME", "regex:NAME" or "intent:NAME": its examples} of the generated files."""
    blocks: dict[str, list[str]] = {}
    for path in sorted(folder.glob("*.yml")):
        for block in yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]:
            kind = next(k for k in ("lookup", "regex", "intent") if k in block)
            key = f"{kind}:{block[kind]}"
            blocks[key] = [line[2:] for line in block["examples"].splitlines() if line.startswith("- ")]
    return blocks


def test_the_garden_shop_gets_its_own_lookups_and_examples(garden):
    report, data, nlu = garden
    blocks = nlu_blocks(nlu)
    assert {"pruning shears", "garden spades", "garden hoses", "compost"} <= set(blocks["lookup:product_category"])
    assert set(blocks["lookup:brand"]) == {"Fernhill", "Rootwell", "Mossgate"}
    searches = " ".join(blocks["intent:search_product"])
    assert "[pruning shears](product_category)" in searches and "[compost](product_category)" in searches
    # Nothing of the demo shop leaks in.
    assert "sneaker" not in searches and "Stridewell" not in searches
    # Marked, so the NLU sets its out-of-scope threshold on people's examples, not these.
    generated = yaml.safe_load((nlu / "shop_examples.yml").read_text(encoding="utf-8"))["nlu"]
    assert generated and all(block["metadata"] == {"generated": True} for block in generated)
    # A brand or colour is only asked of a product type that comes in it.
    for example in blocks["intent:search_product"]:
        if "(brand)" in example and "[garden hoses]" in example:
            assert "[Mossgate](brand)" in example
    questions = blocks["intent:ask_faq"]
    assert any("pallet deliveries" in q for q in questions)
    assert any(q.lower() == "can i return a used spade?" for q in questions)
    assert report.products == 10 and report.documents == 2
    assert report.nlu.examples["search_product"] > 0 and report.nlu.samples["search_product"]
    assert "lookups: product_category" in report.summary()


def test_onboarding_lays_the_catalog_the_documents_and_a_marker(garden, tmp_path):
    report, data, _ = garden
    products = [json.loads(line) for line in (data / "catalog.jsonl").read_text().splitlines()]
    assert [p["id"] for p in products][:2] == ["G001", "G002"] and products[0]["tags"] == ["pruning", "hand tools"]
    assert sorted(p.name for p in (data / "kb").iterdir()) == ["delivery.md", "faq.csv"]
    marker = json.loads((data / "shop.json").read_text())
    assert marker["products"] == 10 and marker["kb"].endswith("kb")


def test_generation_is_the_same_every_time(tmp_path):
    products = [json.loads(line) for line in _garden_catalog(tmp_path).read_text().splitlines()]
    write_nlu_data(products, GARDEN / "kb", tmp_path / "a")
    write_nlu_data(products, GARDEN / "kb", tmp_path / "b")
    for name in ("shop_lookups.yml", "shop_examples.yml"):
        assert (tmp_path / "a" / name).read_text() == (tmp_path / "b" / name).read_text()


def _garden_catalog(tmp_path: Path) -> Path:
    report = onboard(
        GARDEN / "catalog.csv",
        GARDEN / "kb",
        GARDEN / "mapping.json",
        data_dir=tmp_path / "d",
        nlu_dir=tmp_path / "n",
        database_url=f"sqlite:///{tmp_path / 'shop.db'}",
    )
    return report.data_dir / "catalog.jsonl"


def test_a_shops_own_nlu_files_are_included(tmp_path):
    own = tmp_path / "own"
    own.mkdir()
    (own / "greetings.yml").write_text('version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - howdy gardener\n')
    onboard(
        GARDEN / "catalog.csv",
        GARDEN / "kb",
        GARDEN / "mapping.json",
        own,
        data_dir=tmp_path / "d",
        nlu_dir=tmp_path / "n",
        database_url=f"sqlite:///{tmp_path / 'shop.db'}",
    )
    assert "howdy gardener" in nlu_blocks(tmp_path / "n")["intent:greet"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"catalog": Path("missing.csv")}, "catalog missing.csv not found"),
        ({"kb": Path("no-such-folder")}, "knowledge-base folder no-such-folder not found"),
        ({"mapping": GARDEN / "kb" / "faq.csv"}, "column mapping"),
    ],
)
def test_bad_files_get_a_clear_message_and_change_nothing(tmp_path, change, message):
    args = {"catalog": GARDEN / "catalog.csv", "kb": GARDEN / "kb", "mapping": GARDEN / "mapping.json", **change}
    with pytest.raises(OnboardError, match=message):
        onboard(
            args["catalog"],
            args["kb"],
            args["mapping"],
            data_dir=tmp_path / "d",
            nlu_dir=tmp_path / "n",
            database_url=f"sqlite:///{tmp_path / 'shop.db'}",
        )
    assert not (tmp_path / "d").exists()


def test_an_empty_kb_folder_is_refused(tmp_path):
    empty = tmp_path / "kb"
    empty.mkdir()
    with pytest.raises(OnboardError, match="holds no documents"):
        onboard(GARDEN / "catalog.csv", empty, GARDEN / "mapping.json", data_dir=tmp_path / "d", nlu_dir=tmp_path / "n")


def test_vocabulary_of_the_demo_catalog_is_not_hard_coded(generated_shop):
    products = [json.loads(line) for line in (generated_shop / "catalog.jsonl").read_text().splitlines()]
    vocabulary = catalog_vocabulary(products)
    assert len(vocabulary.brands) == len({p["brand"] for p in products})
    assert "hiking boots" in vocabulary.product_types


def test_an_export_with_a_row_per_variant_is_one_product_per_id_and_says_so(tmp_path):
    rows = (GARDEN / "catalog.csv").read_text(encoding="utf-8").splitlines()
    # The first shears again in teal, as a platform exports a colour variant under the same id.
    variant = rows[1].replace(",green,", ",teal,").replace(",24.50,", ",26.50,")
    export = tmp_path / "export.csv"
    export.write_text("\n".join([*rows[:2], variant, *rows[2:]]) + "\n", encoding="utf-8")
    data, nlu = tmp_path / "data", tmp_path / "nlu"
    report = onboard(
        export,
        GARDEN / "kb",
        GARDEN / "mapping.json",
        data_dir=data,
        nlu_dir=nlu,
        database_url=f"sqlite:///{tmp_path / 'db'}",
    )
    assert report.products == 10 and not report.skipped
    assert "1 rows share an earlier row's id: merged into its product as variants" in report.summary()
    shears = json.loads((data / "catalog.jsonl").read_text().splitlines()[0])
    assert (shears["colors"], shears["price"], shears["price_max"]) == (["green", "teal"], 24.5, 26.5)
    assert "teal" in nlu_blocks(nlu)["lookup:color"]
    # `make index` reads the catalog `make shop` wrote: the variants' colours and prices stay.
    [again] = [p for p in read_catalog(data / "catalog.jsonl").products if p["id"] == shears["id"]]
    assert again == shears
