from __future__ import annotations

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.support import ActionHumanHandoff
from tests.actions.conftest import load_tracker, slot_events, texts

pytestmark = pytest.mark.usefixtures("shop_db_url")


@pytest.mark.parametrize(
    "text", ["I want a real person now", "", "x" * 5000, "my email is ana.lopez@example.com, order SO10003"]
)
async def test_handoff_marks_the_conversation_for_an_agent(text, services):
    dispatcher = CollectingDispatcher()
    tracker = load_tracker("order_form_filled", text=text, intent="human_handoff", sender_id="needs-help")
    events = await ActionHumanHandoff(services).run(dispatcher, tracker, {})
    assert "customer care team" in texts(dispatcher)[0]
    assert slot_events(events) == {"handoff_requested": True}
    queue = [h for h in services.shop_db.open_handoffs() if h["sender_id"] == "needs-help"]
    assert len(queue) == 1
    # The queue keeps the reason but never the shopper's email or full order id.
    assert "ana.lopez@example.com" not in queue[0]["reason"] and "SO10003" not in queue[0]["reason"]
    assert len(queue[0]["reason"]) <= 600
