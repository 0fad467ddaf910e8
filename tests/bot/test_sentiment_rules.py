"""The generated angry-shopper rules stay in step with the rules they are derived from."""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.components import sentiment_rules

ROOT = Path(__file__).resolve().parents[2]


def test_generated_rules_are_up_to_date():
    rules_dir = ROOT / "training_data" / "rules"
    expected = sentiment_rules.generate(rules_dir, rules_dir / "sentiment.yml")
    assert (rules_dir / "sentiment.yml").read_text() == expected, (
        "training_data/rules/sentiment.yml is stale: run `python -m bot.components.sentiment_rules`"
    )


def test_twin_apologises_first_then_keeps_the_original_steps():
    rule = {
        "rule": "order_status starts the form",
        "steps": [{"intent": "order_status"}, {"action": "order_status_form"}, {"active_loop": "order_status_form"}],
    }
    twin = sentiment_rules.angry_twin(rule)
    assert twin["steps"][:3] == [
        {"intent": "order_status"},
        {"slot_was_set": [{"sentiment": "negative"}]},
        {"action": "action_sentiment_apology"},
    ]
    assert twin["steps"][3:] == rule["steps"][1:]


def test_complaints_and_handoffs_get_no_extra_apology():
    for intent in ("complaint", "human_handoff"):
        rule = {"rule": "x", "steps": [{"intent": intent}, {"action": "utter_x"}]}
        assert sentiment_rules.angry_twin(rule) is None
    contextual = {"rule": "x", "steps": [{"action": "utter_offer_human"}, {"intent": "deny"}]}
    assert sentiment_rules.angry_twin(contextual) is None


def test_domain_declares_what_the_rules_use():
    domain = yaml.safe_load((ROOT / "bot" / "domain" / "sentiment.yml").read_text())
    assert domain["slots"]["sentiment"]["type"] == "categorical"
    assert "negative" in domain["slots"]["sentiment"]["values"]
    assert "utter_sentiment_apology" in domain["responses"]
    buttons = domain["responses"]["utter_sentiment_apology"][0]["buttons"]
    assert {"title": "Talk to a person", "payload": "/human_handoff"} in buttons
