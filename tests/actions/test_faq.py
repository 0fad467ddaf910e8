"""action_answer_faq and action_faq_feedback through a CollectingDispatcher, on the demo KB in Chroma."""

from __future__ import annotations

import pytest
import sqlalchemy
from rasa_sdk.executor import CollectingDispatcher

from actions.faq import NOT_SURE, SUGGESTION, ActionAcceptOffer, ActionAnswerFaq, ActionFaqFeedback
from retrieval import knowledge_base
from retrieval.services import ServiceRegistry
from shop.db import ShopDB
from tests.actions.conftest import load_tracker, slot_events, texts


@pytest.fixture
def kb(demo_kb):
    return demo_kb


@pytest.fixture
def services(shop_db_url, kb, embedder):
    return ServiceRegistry(shop_db=ShopDB(shop_db_url), knowledge_base=kb, embedder=embedder)


def faq_rows(services: ServiceRegistry, sender: str) -> list[tuple]:
    with services.shop_db.engine.connect() as connection:
        return list(
            connection.execute(
                sqlalchemy.text(
                    "SELECT id, query, answer_source, score, helpful FROM faq_log WHERE sender_id = :s ORDER BY id"
                ),
                {"s": sender},
            ).all()
        )


@pytest.mark.parametrize(
    ("question", "fact", "source"),
    [
        ("how long till my money comes back after a return?", "business days", "Refunds"),
        ("do you accept paypal", "PayPal", "Payment"),
        ("how many days do I have to send something back", "30 days", "Returns"),
        ("I forgot my pasword, how do I reset it", "Forgot password", "Account"),
    ],
)
async def test_faq_answers_with_the_passage_its_source_and_helpful_buttons(
    shop_db_url, kb, question, fact, source, services
):
    dispatcher = CollectingDispatcher()
    # the tracker is mid-form: the answer does not depend on or touch the form
    events = await ActionAnswerFaq(services).run(
        dispatcher, load_tracker("order_form_filled", text=question, intent="ask_faq", sender_id="faq"), {}
    )
    assert slot_events(events) == {"answered_question": question, "offered_action": None}
    [message] = dispatcher.messages
    assert fact in message["text"] and f"_Source: {source}" in message["text"]
    assert len(message["text"]) < 700
    [row] = faq_rows(services, "faq")
    assert row[1] == question and row[2] and row[3] >= kb.min_confidence
    assert [b["title"] for b in message["buttons"]] == ["Yes, thanks", "No"]
    assert f'"faq_log_id": "{row[0]}"' in message["buttons"][0]["payload"]


@pytest.mark.parametrize(
    "question", ["", "x" * 5000, "zzz qqq", "'; DROP TABLE faq_log;--", "who won the world cup in 1998"]
)
async def test_unsure_or_bad_input_gets_the_not_sure_reply_and_a_human(shop_db_url, kb, question, services):
    dispatcher = CollectingDispatcher()
    await ActionAnswerFaq(services).run(
        dispatcher, load_tracker("order_form_filled", text=question, intent="ask_faq", sender_id="odd"), {}
    )
    [message] = dispatcher.messages
    assert message["text"].startswith(NOT_SURE)
    assert message["buttons"] == [{"title": "Talk to a human", "payload": "/human_handoff"}]
    assert faq_rows(services, "odd")[-1][2] is None  # logged as unanswered


async def test_between_the_two_cut_offs_the_passage_is_a_hedged_suggestion_with_a_human(
    shop_db_url, kb, monkeypatch, services
):
    question = "how many days do I have to send something back"
    confidence = kb.search(question, k=1)[0].confidence
    monkeypatch.setattr(kb, "min_confidence", confidence + 0.01)
    monkeypatch.setattr(kb, "suggest_confidence", confidence - 0.01)
    dispatcher = CollectingDispatcher()
    await ActionAnswerFaq(services).run(
        dispatcher, load_tracker("order_form_filled", text=question, intent="ask_faq", sender_id="hedge"), {}
    )
    [message] = dispatcher.messages
    assert (
        message["text"].startswith(SUGGESTION)
        and "30 days" in message["text"]
        and "_Source: Returns" in message["text"]
    )
    assert [b["title"] for b in message["buttons"]] == ["Yes, thanks", "No", "Talk to a human"]
    [row] = faq_rows(services, "hedge")
    assert row[2] and f'"faq_log_id": "{row[0]}"' in message["buttons"][0]["payload"]


async def test_a_message_the_nlu_turned_away_gets_the_suggested_passage_not_the_list_of_skills(
    shop_db_url, kb, monkeypatch, services
):
    """A shopper's own words for a policy that the NLU found out of scope and the documents only
    suggest: the hedged passage with a person one tap away, not "Sorry, I can't help with that"."""
    from actions.products import ActionUnclearMessage

    question = "fine. whats your phone number"
    confidence = kb.search(question, k=1)[0].confidence
    monkeypatch.setattr(kb, "min_confidence", confidence + 0.01)
    monkeypatch.setattr(kb, "suggest_confidence", confidence - 0.01)
    dispatcher = CollectingDispatcher()
    events = await ActionUnclearMessage(services).run(
        dispatcher, load_tracker("order_form_filled", text=question, intent="out_of_scope", sender_id="gated"), {}
    )
    [message] = dispatcher.messages
    assert message["text"].startswith(SUGGESTION) and "_Source: Contact" in message["text"]
    assert [b["title"] for b in message["buttons"]] == ["Yes, thanks", "No", "Talk to a human"]
    assert slot_events(events) == {"answered_question": question, "offered_action": None}
    assert [row[1] for row in faq_rows(services, "gated")] == [question]


def test_the_cut_offs_come_from_the_environment_and_bad_values_are_named(embedder, tmp_path, monkeypatch):
    monkeypatch.setenv("SHOP_KB_MIN_CONFIDENCE", "0.6")
    monkeypatch.setenv("SHOP_KB_SUGGEST_CONFIDENCE", "0.7")
    kb = knowledge_base.KnowledgeBase(index_path=tmp_path, embedder=embedder)
    assert kb.min_confidence == 0.6 and kb.suggest_confidence == 0.6  # never above the answer cut-off
    monkeypatch.setenv("SHOP_KB_MIN_CONFIDENCE", "high")
    with pytest.raises(ValueError, match="SHOP_KB_MIN_CONFIDENCE"):
        knowledge_base.KnowledgeBase(index_path=tmp_path, embedder=embedder)


async def test_a_long_section_is_answered_whole_so_a_fact_in_its_last_lines_is_shown(shop_db_url, tmp_path, embedder):
    # Another shop's sections run to the chunk size; the reply once cut them at the demo's 420
    # characters and dropped what came last (here the deadline asked about).
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "subscriptions.md").write_text(
        "# Subscriptions\n\n## Managing your subscription\n\n"
        "Go to **My Account > Subscriptions**. You can:\n\n"
        "- **skip** the next delivery,\n"
        "- **change the date** or **frequency** of your deliveries,\n"
        "- **add, remove or swap** products, for example from a small bag to a large one,\n"
        "- **change the quantity** of anything in the order,\n"
        "- **update your address or payment method**,\n"
        "- **pause** for up to **six months**, or **cancel** at any time.\n\n"
        "We email you a reminder **three days before** each order is processed, so there is time to change it.\n\n"
        "Changes must be made by **11:59pm the night before** the order processes.\n",
        encoding="utf-8",
    )
    kb = knowledge_base.KnowledgeBase(index_path=tmp_path / "index", embedder=embedder)
    kb.ingest(folder, progress=False)
    [passage] = kb.search("when do my subscription changes have to be made by", k=1)
    assert len(passage.text) > 420
    services = ServiceRegistry(shop_db=ShopDB(shop_db_url), knowledge_base=kb, embedder=embedder)
    dispatcher = CollectingDispatcher()
    await ActionAnswerFaq(services).run(
        dispatcher,
        load_tracker("order_form_filled", text="when do my subscription changes have to be made by", intent="ask_faq"),
        {},
    )
    [message] = dispatcher.messages
    assert "11:59pm the night before" in message["text"] and "Go to **My Account" in message["text"]


async def test_a_missing_index_is_an_apology_not_a_crash(shop_db_url, tmp_path, embedder):
    services = ServiceRegistry(
        shop_db=ShopDB(shop_db_url),
        knowledge_base=knowledge_base.KnowledgeBase(index_path=tmp_path / "none", embedder=embedder),
    )
    dispatcher = CollectingDispatcher()
    await ActionAnswerFaq(services).run(
        dispatcher, load_tracker("order_form_filled", text="refund?", intent="ask_faq"), {}
    )
    assert texts(dispatcher)[0].startswith(NOT_SURE)


@pytest.mark.parametrize(("helpful", "stored"), [("yes", True), ("no", False)])
async def test_feedback_is_stored_on_the_logged_answer(shop_db_url, kb, helpful, stored, services):
    dispatcher = CollectingDispatcher()
    await ActionAnswerFaq(services).run(
        dispatcher, load_tracker("order_form_filled", text="do you ship abroad?", intent="ask_faq", sender_id="fb"), {}
    )
    log_id = faq_rows(services, "fb")[-1][0]
    tracker = load_tracker("order_form_filled", intent="faq_feedback", sender_id="fb")
    tracker.latest_message["entities"] = [
        {"entity": "faq_log_id", "value": str(log_id)},
        {"entity": "helpful", "value": helpful},
    ]
    dispatcher = CollectingDispatcher()
    await ActionFaqFeedback(services).run(dispatcher, tracker, {})
    assert faq_rows(services, "fb")[-1][4] == stored
    assert ("Glad" in texts(dispatcher)[0]) == stored


async def test_feedback_with_garbage_entities_changes_nothing(shop_db_url, kb, services):
    tracker = load_tracker("order_form_filled", intent="faq_feedback")
    tracker.latest_message["entities"] = [{"entity": "faq_log_id", "value": "1; DROP TABLE faq_log"}]
    dispatcher = CollectingDispatcher()
    await ActionFaqFeedback(services).run(dispatcher, tracker, {})
    assert texts(dispatcher) == ["Thanks! Is there anything else I can help with?"]


@pytest.mark.parametrize("intent", ["nlu_fallback", "out_of_scope"])
async def test_a_follow_up_right_after_an_answer_is_asked_with_the_question_before_it(services, intent):
    tracker = load_tracker("order_form_filled", text="and for a gift?", intent=intent, sender_id="follow-up")
    tracker.events.extend(
        [
            {"event": "user", "text": "do you accept paypal", "parse_data": {"intent": {"name": "ask_faq"}}},
            {"event": "action", "name": "action_answer_faq"},
            {"event": "slot", "name": "answered_question", "value": "do you accept paypal"},
            {"event": "user", "text": "and for a gift?", "parse_data": {"intent": {"name": intent}}},
        ]
    )
    await ActionAnswerFaq(services).run(CollectingDispatcher(), tracker, {})
    [row] = faq_rows(services, "follow-up")
    assert row[1] == "do you accept paypal and for a gift?" and row[2].startswith("payment.md")


async def test_a_question_right_after_a_cancellation_is_about_that_cancellation(services):
    """ "When do I get my money back?" alone is about returns; right after the assistant cancelled
    an order it is about cancelled orders, and two turns later it is alone again."""
    question = "when do I get my money back?"

    def after(*earlier: dict) -> object:
        tracker = load_tracker("order_form_filled", text=question, intent="ask_faq", sender_id="refund")
        tracker.events.extend(
            [*earlier, {"event": "user", "text": question, "parse_data": {"intent": {"name": "ask_faq"}}}]
        )
        return tracker

    just_cancelled = CollectingDispatcher()
    await ActionAnswerFaq(services).run(
        just_cancelled,
        after(
            {"event": "user", "text": "yes please", "parse_data": {"intent": {"name": "affirm"}}},
            {"event": "action", "name": "action_confirm_cancel_order"},
        ),
        {},
    )
    assert "3 business days" in just_cancelled.messages[0]["text"]
    assert faq_rows(services, "refund")[-1][1] == f"I cancelled my order. {question}"

    later = CollectingDispatcher()
    await ActionAnswerFaq(services).run(
        later,
        after(
            {"event": "user", "text": "yes please", "parse_data": {"intent": {"name": "affirm"}}},
            {"event": "action", "name": "action_confirm_cancel_order"},
            {"event": "user", "text": "thanks", "parse_data": {"intent": {"name": "thank"}}},
            {"event": "action", "name": "utter_you_are_welcome"},
        ),
        {},
    )
    assert faq_rows(services, "refund")[-1][1] == question


async def test_a_follow_up_to_an_answer_two_turns_back_is_asked_alone(services):
    tracker = load_tracker("order_form_filled", text="and for a gift?", intent="nlu_fallback", sender_id="stale")
    tracker.events.extend(
        [
            {"event": "user", "text": "do you accept paypal", "parse_data": {"intent": {"name": "ask_faq"}}},
            {"event": "slot", "name": "answered_question", "value": "do you accept paypal"},
            {"event": "user", "text": "show me boots", "parse_data": {"intent": {"name": "search_product"}}},
            {"event": "user", "text": "and for a gift?", "parse_data": {"intent": {"name": "nlu_fallback"}}},
        ]
    )
    await ActionAnswerFaq(services).run(CollectingDispatcher(), tracker, {})
    assert faq_rows(services, "stale")[0][1] == "and for a gift?"


async def test_a_question_of_its_own_is_asked_alone(services):
    tracker = load_tracker("order_form_filled", text="do you accept paypal", intent="ask_faq", sender_id="alone")
    await ActionAnswerFaq(services).run(CollectingDispatcher(), tracker, {})
    assert faq_rows(services, "alone")[0][1] == "do you accept paypal"


async def test_a_policy_question_the_nlu_found_out_of_scope_is_answered_from_the_documents(services):
    """Questions first: the shop's documents answer it when they are sure, before any search or
    the list of what the assistant can do; anything they are not sure of goes on as before."""
    from actions.products import ActionUnclearMessage

    dispatcher = CollectingDispatcher()
    question = "do you accept paypal"
    events = await ActionUnclearMessage(services).run(
        dispatcher, load_tracker("order_form_filled", text=question, intent="out_of_scope", sender_id="unclear"), {}
    )
    assert slot_events(events) == {"answered_question": question, "offered_action": None}
    [message] = dispatcher.messages
    assert "PayPal" in message["text"] and "_Source: Payment" in message["text"]
    assert [row[1] for row in faq_rows(services, "unclear")] == [question]

    other = CollectingDispatcher()
    await ActionUnclearMessage(services).run(
        other, load_tracker("order_form_filled", text="tell me a joke", intent="out_of_scope", sender_id="joke"), {}
    )
    assert [m.get("response") for m in other.messages] == ["utter_capabilities"]
    assert faq_rows(services, "joke") == []  # nothing answered, nothing logged as answered


async def test_a_complaint_the_documents_cover_gets_their_answer_without_feedback_buttons(services):
    from actions.faq import COMPLAINT_INTRO, ActionAnswerComplaint

    complaint = "the parcel arrived and the box is all crushed, what now"
    dispatcher = CollectingDispatcher()
    tracker = load_tracker("order_form_filled", text=complaint, intent="complaint", sender_id="crushed")
    tracker.events.append({"event": "user", "text": complaint, "parse_data": {"intent": {"name": "complaint"}}})
    events = await ActionAnswerComplaint(services).run(dispatcher, tracker, {})
    [message] = dispatcher.messages
    assert message["text"].startswith(COMPLAINT_INTRO) and "photo" in message["text"]
    assert not message.get("buttons")  # the offer of a person that follows has its own
    assert slot_events(events) == {"answered_question": complaint, "offered_action": None}

    quiet = CollectingDispatcher()
    rant = "you are all useless"
    tracker = load_tracker("order_form_filled", text=rant, intent="complaint", sender_id="rant")
    tracker.events.append({"event": "user", "text": rant, "parse_data": {"intent": {"name": "complaint"}}})
    assert await ActionAnswerComplaint(services).run(quiet, tracker, {}) == []
    assert quiet.messages == []


async def test_what_now_after_the_offer_of_a_person_looks_up_the_complaint_again(services):
    from actions.faq import ActionAnswerComplaint

    complaint = "the parcel arrived and the box is all crushed"
    tracker = load_tracker("order_form_filled", text="what do i do now", intent="ask_capabilities", sender_id="now")
    tracker.events.extend(
        [
            {"event": "user", "text": complaint, "parse_data": {"intent": {"name": "complaint"}}},
            {"event": "action", "name": "utter_offer_human"},
            {"event": "user", "text": "what do i do now", "parse_data": {"intent": {"name": "ask_capabilities"}}},
        ]
    )
    dispatcher = CollectingDispatcher()
    await ActionAnswerComplaint(services).run(dispatcher, tracker, {})
    [message] = dispatcher.messages
    assert "photo" in message["text"]


def _asking(text: str, order_action: str | None, sender_id: str, active_loop: str | None = None):
    tracker = load_tracker("order_form_filled", text=text, intent="ask_faq", sender_id=sender_id)
    if order_action is not None:
        start = text.lower().index(order_action.split()[0][:4])
        tracker.latest_message["entities"] = [
            {"entity": "order_action", "value": order_action, "start": start, "end": start + len(order_action)}
        ]
    else:
        tracker.latest_message["entities"] = []
    tracker.active_loop = {"name": active_loop} if active_loop else {}
    return tracker


@pytest.mark.parametrize(
    ("question", "order_action", "fact", "offer", "form"),
    [
        ("how many days do I have to return something", "return", "30 days", "utter_offer_return", "return_form"),
        ("can I cancel an order after it has shipped?", "cancel", "ship", "utter_offer_cancel", "cancel_order_form"),
    ],
)
async def test_a_question_about_an_order_action_is_answered_then_the_action_is_offered(
    services, question, order_action, fact, offer, form
):
    """Questions first: the documents answer, then the offer to act replaces "Was this
    helpful?"; a "yes" to it starts the form."""
    dispatcher = CollectingDispatcher()
    events = await ActionAnswerFaq(services).run(dispatcher, _asking(question, order_action, "offer"), {})
    answer, offered = dispatcher.messages
    assert fact in answer["text"] and "_Source:" in answer["text"]
    assert "helpful" not in answer["text"] and not answer["buttons"]
    assert offered["response"] == offer
    assert slot_events(events)["offered_action"] == form

    yes = load_tracker("order_form_filled", text="yes", intent="affirm", slots={"offered_action": form})
    accepted = CollectingDispatcher()
    events = await ActionAcceptOffer().run(accepted, yes, {})
    assert events == [
        {"event": "slot", "timestamp": None, "name": "offered_action", "value": None},
        {"event": "followup", "timestamp": None, "name": form},
    ]
    assert accepted.messages == []


async def test_no_offer_inside_a_form_or_without_an_order_action(services):
    inside = CollectingDispatcher()
    events = await ActionAnswerFaq(services).run(
        inside, _asking("how many days do I have to return something", "return", "in-form", "return_form"), {}
    )
    [message] = inside.messages
    assert "30 days" in message["text"] and "helpful" in message["text"]
    assert slot_events(events)["offered_action"] is None

    plain = CollectingDispatcher()
    await ActionAnswerFaq(services).run(plain, _asking("do you accept paypal", None, "plain"), {})
    assert [m.get("response") for m in plain.messages] == [None]


async def test_yes_to_passing_an_unanswered_question_on_brings_a_person(services):
    dispatcher = CollectingDispatcher()
    events = await ActionAnswerFaq(services).run(
        dispatcher, load_tracker("order_form_filled", text="zzz qqq", intent="ask_faq", sender_id="no-answer"), {}
    )
    assert dispatcher.messages[0]["text"].startswith(NOT_SURE)
    assert slot_events(events)["offered_action"] == "action_human_handoff"

    yes = load_tracker("order_form_filled", text="yes", intent="affirm", slots=slot_events(events))
    events = await ActionAcceptOffer().run(CollectingDispatcher(), yes, {})
    assert {"event": "followup", "timestamp": None, "name": "action_human_handoff"} in events


@pytest.mark.parametrize("stale", [None, "drop_table_form"])
async def test_a_yes_to_an_answer_with_no_offer_pending_starts_nothing(stale):
    dispatcher = CollectingDispatcher()
    tracker = load_tracker("order_form_filled", text="yes", intent="affirm", slots={"offered_action": stale})
    assert await ActionAcceptOffer().run(dispatcher, tracker, {}) == []
    assert [m["response"] for m in dispatcher.messages] == ["utter_anything_else"]
