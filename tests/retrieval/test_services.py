"""The service registry and the recommendation candidates, without any action."""

from __future__ import annotations

import dataclasses
import logging
import os

import pytest

from retrieval.product_index import ProductIndex, ProductIndexMissingError
from retrieval.recommendation_candidates import Recommendations
from retrieval.services import ServiceRegistry
from shop.settings import current


def test_each_service_is_built_once_and_shared(embedder, tmp_path):
    settings = dataclasses.replace(current(), product_index_path=tmp_path / "products")
    services = ServiceRegistry(settings, embedder=embedder)
    assert services.product_index is services.product_index
    # One MiniLM for the index, search, use tags, description matching and candidates.
    assert services.product_search.index is services.product_index
    assert services.use_matcher.index is services.product_index
    assert services.description_matcher.embedder is embedder
    assert services.product_questions.index is services.product_index
    assert services.product_index.embedder is embedder
    # The settings given are the ones the services are built with.
    assert services.product_index.index_path == tmp_path / "products"


def test_a_given_service_is_used_as_it_is_and_unknown_names_are_refused(demo_products):
    services = ServiceRegistry(product_index=demo_products)
    assert services.product_index is demo_products
    assert services.product_search.index is demo_products
    with pytest.raises(TypeError, match="unknown services: search_engine"):
        ServiceRegistry(search_engine=object())


def test_warm_up_reports_a_missing_index_and_does_not_raise(embedder, tmp_path, caplog):
    settings = dataclasses.replace(
        current(),
        product_index_path=tmp_path / "none",
        kb_path=tmp_path / "no-kb",
        recommender_path=tmp_path / "no-recommender",
    )
    services = ServiceRegistry(settings, embedder=embedder, kb_embedder=embedder)
    with caplog.at_level(logging.ERROR):
        services.warm_up()
    assert "product index not loaded at start-up" in caplog.text
    assert "recommender not loaded at start-up" in caplog.text
    with pytest.raises(ProductIndexMissingError):
        services.product_search.index.warm_up()


def test_a_retrained_recommender_is_picked_up(trained_recommender, tmp_path, demo_products):
    import shutil

    folder = tmp_path / "recommender"
    shutil.copytree(trained_recommender, folder)
    services = ServiceRegistry(dataclasses.replace(current(), recommender_path=folder), product_index=demo_products)
    first = services.recommender
    assert services.recommender is first  # unchanged files: the same model
    weights = folder / "recommender.safetensors"
    stat = weights.stat()
    os.utime(weights, (stat.st_atime, stat.st_mtime + 10))
    assert services.recommender is not first


@pytest.fixture
def candidates(trained_recommender, demo_products):
    services = ServiceRegistry(
        dataclasses.replace(current(), recommender_path=trained_recommender),
        product_index=demo_products,
        embedder=demo_products.embedder,
    )
    return services.recommendations


def test_words_about_a_kind_of_product_narrow_the_candidates(candidates: Recommendations, demo_products: ProductIndex):
    # "jacket" is the NLU's product word of the message.
    picks = candidates.recommend("recommend me a warm winter jacket", category="jacket", k=5)
    assert len(picks) == 5
    assert all("jacket" in p.product["subcategory"] for p in picks), [p.product["subcategory"] for p in picks]
    assert all(p.use is None for p in picks)


def test_a_situation_brings_products_carrying_its_use_tag(candidates: Recommendations):
    picks = candidates.recommend("I'm going skiing in January", k=5)
    assert picks and all(p.use in p.product["tags"] for p in picks)
    assert {p.use for p in picks} <= {"ski", "winter"}


def test_a_plain_request_is_not_narrowed_and_a_last_search_leans_the_blend(candidates: Recommendations):
    plain = candidates.recommend("recommend something for me", k=5)
    leaning = candidates.recommend("recommend something for me", last_search="organic cotton t-shirt", k=5)
    assert all(p.use is None for p in plain)

    def clothing(picks):
        return sum(p.product["category"] == "clothing" for p in picks)

    assert clothing(leaning) > clothing(plain)


def test_the_products_liked_or_viewed_shape_the_picks_and_are_not_repeated(
    candidates: Recommendations, demo_products: ProductIndex
):
    viewed = next(p["id"] for p in demo_products.products if p["subcategory"] == "hiking boots")
    picks = candidates.recommend("", context_ids=[viewed], k=5)
    assert viewed not in [p.product["id"] for p in picks]
    assert picks != candidates.recommend("", k=5)
