"""End to end over REST with both servers as processes: knowledge-base answers and product search."""

from __future__ import annotations

from tests.e2e.conftest import Chat


def cards_of(messages: list[dict]) -> list[dict]:
    for message in messages:
        custom = message.get("custom") or {}
        if custom.get("type") == "product_cards":
            return custom["products"]
    return []


def test_a_paraphrased_policy_question_gets_the_right_fact_with_its_source(stack):
    chat = Chat(stack, "e2e-kb")
    messages = chat.say("after I send something back, how long until I get my money?")
    text = "\n".join(m.get("text", "") for m in messages)
    assert "5 to 7 business days" in text and "Source: Refunds" in text
    buttons = [b for m in messages for b in m.get("buttons", [])]
    assert [b["title"] for b in buttons] == ["Yes, thanks", "No"]
    # pressing the quick reply stores the feedback and thanks the shopper
    assert "Glad it helped" in chat.text(buttons[0]["payload"])


def test_faq_answer_in_the_middle_of_a_form_then_the_form_resumes(stack):
    chat = Chat(stack, "e2e-kb-form")
    assert "order number" in chat.text("where is my order?").lower()
    reply = chat.text("do you ship to canada?")
    assert "Source: Shipping" in reply and "order number" in reply.lower()


def test_search_then_refine_keeps_the_constraints(stack):
    chat = Chat(stack, "e2e-search")
    first = cards_of(chat.say("show me running shoes under 150"))
    assert first and all(c["price"] <= 150 for c in first)
    assert all("Shoes" in c["title"] for c in first)
    cheaper = chat.say("something cheaper")
    cheaper_cards = cards_of(cheaper)
    limit = min(c["price"] for c in first)
    if cheaper_cards:
        assert all(c["price"] < limit for c in cheaper_cards)
    else:
        assert "already the lowest price" in cheaper[0]["text"]
    more = cards_of(chat.say("show me more"))
    assert not {c["id"] for c in more} & {c["id"] for c in first}
