"""The fused recommender on the demo shop: persistence, cold start, known customers, feedback."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.recommender import FusedRecommender, RecommenderModelError, interaction_weight
from retrieval.review_sentiment import ReviewSentiment
from shop.db import ShopDB


@pytest.fixture(scope="module")
def shop(generated_shop, demo_products):
    products = demo_products.products
    interactions = ShopDB(f"sqlite:///{generated_shop / 'shop.db'}").interactions()
    return products, interactions, demo_products.matrix


@pytest.fixture(scope="module")
def model(shop):
    products, interactions, vectors = shop
    sentiment = np.asarray([min(1.0, p["rating"] / 5) for p in products], dtype=np.float32)
    return FusedRecommender(epochs=4).fit(interactions, products, vectors, sentiment, progress=False)


def test_persist_then_load_gives_identical_scores(model, tmp_path):
    model.save(tmp_path / "rec")
    loaded = FusedRecommender.load(tmp_path / "rec")
    for customer, context in [("C0001", []), (None, ["P0015"]), (None, [])]:
        assert np.array_equal(model.scores(customer, context), loaded.scores(customer, context))
    assert [r.product_id for r in loaded.recommend("C0001")] == [r.product_id for r in model.recommend("C0001")]


def test_the_fusion_weights_are_learned_not_set(model):
    report = model.report
    assert report["pairs"] > 100
    assert set(report["weights_warm"]) == {"collaborative", "semantic", "popularity", "sentiment", "rating"}
    assert report["weights_warm"] != report["weights_cold"]


def test_a_cold_start_shopper_gets_results_with_reasons(model):
    picks = model.recommend(None, [], None, k=5)
    assert len(picks) == 5 and all(p.why for p in picks)
    assert len({p.product_id for p in picks}) == 5


def test_conversation_context_and_known_customers_change_the_ranking(model, shop):
    products = {p["id"]: p for p in shop[0]}
    cold = [r.product_id for r in model.recommend(None, [], None, k=5)]
    with_context = model.recommend(None, ["P0015"], None, k=5)  # a trail running shoe seen in this chat
    assert [r.product_id for r in with_context] != cold and "P0015" not in [r.product_id for r in with_context]
    assert sum(products[r.product_id]["category"] == "footwear" for r in with_context) >= 2
    known = model.recommend("C0001", [], None, k=10)
    owned = set(model.user_items["C0001"])
    assert not {model.item_ids.index(r.product_id) for r in known} & owned  # nothing they already have
    assert [r.product_id for r in known[:5]] != cold


def test_a_candidate_mask_and_exclusions_are_honoured(model, shop):
    mask = np.asarray([p["subcategory"] == "headphones" for p in shop[0]])
    picks = model.recommend(None, [], None, k=3, candidate_mask=mask, exclude={"P0001"})
    assert picks and all(shop[0][model.item_ids.index(r.product_id)]["subcategory"] == "headphones" for r in picks)


def test_thumbs_up_feedback_is_used_by_the_next_training(shop):
    products, interactions, vectors = shop
    target = "P0300"
    before = FusedRecommender(epochs=3).fit(interactions, products, vectors, progress=False)
    assert model_owned(before, "C0002", target) is False
    feedback = [{"customer_id": "C0002", "product_id": target, "event": "feedback_up", "value": None,
                 "ts": max(r["ts"] for r in interactions)}]
    after = FusedRecommender(epochs=3).fit(interactions + feedback, products, vectors, progress=False)
    assert model_owned(after, "C0002", target) is True
    assert interaction_weight("feedback_up", None) > 0 and interaction_weight("feedback_down", None) == 0


def model_owned(model: FusedRecommender, customer: str, product: str) -> bool:
    return model.item_ids.index(product) in model.user_items.get(customer, [])


def test_missing_and_corrupt_models_name_the_fix(tmp_path, model):
    with pytest.raises(RecommenderModelError, match="make train-recommender"):
        FusedRecommender.load(tmp_path / "none")
    model.save(tmp_path / "bad")
    (tmp_path / "bad" / "recommender.safetensors").write_bytes(b"not a tensor file")
    with pytest.raises(RecommenderModelError, match="corrupt"):
        FusedRecommender.load(tmp_path / "bad")


def test_scores_run_on_the_picked_device(model):
    import torch

    assert model.device.type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_review_sentiment_model_learns_from_star_ratings(shop, embedder):
    texts, labels = ReviewSentiment.labelled(shop[0])
    assert len(texts) > 200 and 0.2 < labels.mean() < 0.95
    cut = int(len(texts) * 0.7)
    model = ReviewSentiment(embedder, epochs=150).fit(texts[:cut], labels[:cut])
    accuracy = float(((model.predict(texts[cut:]) > 0.5) == (labels[cut:] > 0.5)).mean())
    assert accuracy > 0.8
    scores = model.product_scores(shop[0][:20])
    assert scores.shape == (20,) and ((0 <= scores) & (scores <= 1)).all()
