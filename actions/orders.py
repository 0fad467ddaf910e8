"""Order status, cancellation and returns.

Every flow verifies that the order id and the email belong together before it reveals or
changes anything. An unknown order and a wrong email get the same reply, so nobody can
probe which order ids exist, and repeated failures from one sender, or from one client
address whatever sender ids it uses, are throttled.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import UsesServices, client_of, latest_entity_values, latest_intent, redact, slot_text
from actions.faq import MAX_ANSWER_CHARS, best_passage, passage_after_the_answer, say_answer
from retrieval.services import ServiceRegistry
from shop.db import Order, find_order_id, normalize_email, normalize_order_id
from shop.money import price_text
from shop.order_numbers import OrderNumberFormat
from shop.orders import mention_means_another_order

logger = logging.getLogger(__name__)

NOT_FOUND = (
    "I couldn't find an order with that order number and email address. "
    "Please check both (the order number is in your confirmation email) and try again."
)
THROTTLED = (
    "There have been too many unsuccessful attempts, so I've paused order look-ups for a "
    'few minutes. If you need help now, say "talk to a human".'
)
# The intents that change an order: with no order number they mean the one just looked at.
ORDER_CHANGES = ("cancel_order", "return_item")
# The slots a form asks for that have a hint of their own (utter_nudge_<slot>).
NUDGED_SLOTS = ("order_id", "email", "ticket_email", "ticket_message")
TICKET_FORM = "handoff_ticket_form"
BAD_EMAIL = "That doesn't look like an email address. Could you type it again, e.g. name@example.com?"


def _day(value: datetime | None) -> str:
    return value.strftime("%b %d, %Y").replace(" 0", " ") if value else "an unknown date"


def _items_summary(order: Order) -> str:
    titles = [item.title for item in order.items]
    if not titles:
        return "your items"
    if len(titles) == 1:
        return titles[0]
    return f"{titles[0]} and {len(titles) - 1} more item{'s' if len(titles) > 2 else ''}"


def verify(
    services: ServiceRegistry, dispatcher: CollectingDispatcher, tracker: Tracker
) -> tuple[Order | None, list[EventType]]:
    """The order the form collected, if order id and email match; else a reply and a reset.
    A match keeps the email (for the same customer's other orders, see `_OrderSlotValidation`)
    and remembers the order, which "return it" and "cancel it" then mean."""
    reset: list[EventType] = [SlotSet("order_id", None), SlotSet("email", None)]
    order_id = slot_text(tracker, "order_id")
    checked = services.orders.verify(tracker.sender_id, order_id, slot_text(tracker, "email"), client_of(tracker))
    if checked.outcome == "throttled":
        dispatcher.utter_message(text=THROTTLED)
        return None, reset
    if checked.order is None:
        logger.info("order verification failed for sender %s (%s)", tracker.sender_id, redact(str(order_id)))
        dispatcher.utter_message(text=NOT_FOUND)
        return None, reset
    return checked.order, [
        SlotSet("verified_customer_id", checked.order.customer_id),
        SlotSet("verified_at", time.time()),
        SlotSet("last_order_id", checked.order.id),
    ]


class _OrderSlotValidation(UsesServices):
    """Normalises the order id and email as the shopper types them, and asks for no more than
    it must. A mixin, not an Action: rasa-sdk registers every Action subclass it finds.

    - An email that matched an order in this conversation (within SHOP_VERIFIED_FOR_S) is kept
      for the same customer's other orders; for an order it does not match, the email is asked
      again, whether or not that order exists, so the question reveals nothing.
    - "Return it" or "cancel it" with no order number means the order just looked at, and so
      does a status question that points at it ("when will it arrive"); "my other order" asks.
    - A value the form did not ask for (an email the NLU misread in "ORD-99999" while the form
      wants the order number) is dropped without a word: the shopper is asked for it in turn,
      and scolding them for an email they never typed would only confuse."""

    async def extract_order_id(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        last = slot_text(tracker, "last_order_id")
        starting = tracker.get_slot("requested_slot") is None and slot_text(tracker, "order_id") is None
        if not (last and starting) or _names(tracker, "order_id"):
            return {}
        mentions = latest_entity_values(tracker, "mention")
        if any(mention_means_another_order(m) for m in mentions):
            return {}
        # Cancelling or returning with no number is about the order just looked at; a status
        # question is only when it points at one ("when will it arrive"), since "where is my
        # order?" may well be about another.
        if latest_intent(tracker) in ORDER_CHANGES or mentions:
            return {"order_id": last}
        return {}

    def validate_order_id(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        raw = slot_value if isinstance(slot_value, str) else None
        # The whole reply when no entity was tagged: "my order is 10042".
        order_id = normalize_order_id(raw) or find_order_id(raw)
        if order_id is None and _was_asked_for("order_id", tracker):
            dispatcher.utter_message(text=bad_order_id_reply())
        return {"order_id": order_id}

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        # After every slot's validation, so that re-validating the kept email can't undo it.
        events: list[EventType] = await super().run(dispatcher, tracker, domain)  # type: ignore[misc]
        order_id = next(
            (e.get("value") for e in reversed(events) if e.get("event") == "slot" and e.get("name") == "order_id"), None
        )
        if isinstance(order_id, str) and self._kept_email_does_not_vouch(tracker, order_id):
            events.append(SlotSet("email", None))
        return events

    def _kept_email_does_not_vouch(self, tracker: Tracker, order_id: str) -> bool:
        """True when the email slot holds one that matched an earlier order (not one typed in
        this message) and it is too old, or not this order's."""
        email, verified_at = slot_text(tracker, "email"), tracker.get_slot("verified_at")
        if email is None or not isinstance(verified_at, (int, float)) or _names(tracker, "email"):
            return False
        orders = self.services.orders
        return not (orders.still_verified(verified_at) and orders.belongs_to(order_id, email))

    def validate_email(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        email = normalize_email(slot_value if isinstance(slot_value, str) else None)
        if email is None and _was_asked_for("email", tracker):
            dispatcher.utter_message(text=BAD_EMAIL)
        return {"email": email}


def _names(tracker: Tracker, entity: str) -> bool:
    """Whether the latest message itself gave this entity (as the NLU tagged it)."""
    return any(e.get("entity") == entity for e in (tracker.latest_message or {}).get("entities") or [])


def bad_order_id_reply() -> str:
    example = OrderNumberFormat.from_settings().example()
    return f"That doesn't look like an order number. Order numbers look like {example}."


class ActionAskOrderId(Action):
    """The order forms' question for the order number, with an example in the shop's own format
    (`SHOP_ORDER_ID_PREFIX`, `SHOP_ORDER_ID_DIGITS`), which a static response could not show."""

    def name(self) -> str:
        return "action_ask_order_id"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        dispatcher.utter_message(text=f"What's your order number? {OrderNumberFormat.from_settings().described()}")
        return []


def _was_asked_for(slot: str, tracker: Tracker) -> bool:
    """True unless the form is waiting for another slot (None: the opening message, where
    whatever the shopper gave is worth a word)."""
    requested = tracker.get_slot("requested_slot")
    return requested in (None, slot)


class ActionNudgeForm(Action):
    """ "yes", "ok" or "thanks" while a form waits for an answer (an order form, or the ticket
    form when nobody can join the chat): the first time a hint on what it asks for, then the
    offer to stop. The form asks again after it."""

    def name(self) -> str:
        return "action_nudge_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        requested = tracker.get_slot("requested_slot")
        form = (tracker.active_loop or {}).get("name")
        if _nudges_since_the_form_started(tracker, self.name()) == 0 and requested in NUDGED_SLOTS:
            dispatcher.utter_message(response=f"utter_nudge_{requested}")
        elif form == TICKET_FORM:
            dispatcher.utter_message(response="utter_offer_stop_ticket_form")
        else:
            dispatcher.utter_message(response="utter_offer_stop_order_form")
        return []


# The form each order request starts (training_data/rules/orders.yml).
FORM_OF_INTENT = {
    "order_status": "order_status_form",
    "cancel_order": "cancel_order_form",
    "return_item": "return_form",
}


class ActionFollowUpOrOrderForm(UsesServices, Action):
    """An order request right after an answer from the documents. "And if it already shipped?"
    after the answer on changing an address reads like an order question, but its "it" points
    at the answer when this conversation has no order to point at: then it is asked after
    that answer, and answered when the documents know. Anything else starts the order form."""

    def name(self) -> str:
        return "action_follow_up_or_order_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        form = FORM_OF_INTENT.get(latest_intent(tracker) or "", "order_status_form")
        points_back = bool(latest_entity_values(tracker, "mention")) and not _names(tracker, "order_id")
        if points_back and not slot_text(tracker, "last_order_id"):
            question, top, decision = passage_after_the_answer(self.services, tracker, self.message_text(tracker))
            if top is not None and decision != "decline":
                return say_answer(self.services, dispatcher, tracker, question, top, decision)
        return [FollowupAction(form)]


def _nudges_since_the_form_started(tracker: Tracker, action_name: str) -> int:
    nudges = 0
    for event in reversed(tracker.events):
        if event.get("event") == "active_loop" and event.get("name"):
            break
        if event.get("event") == "action" and event.get("name") == action_name:
            nudges += 1
    return nudges


class ValidateOrderStatusForm(_OrderSlotValidation, FormValidationAction):
    def name(self) -> str:
        return "validate_order_status_form"


class ValidateCancelOrderForm(_OrderSlotValidation, FormValidationAction):
    def name(self) -> str:
        return "validate_cancel_order_form"


class ValidateReturnForm(_OrderSlotValidation, FormValidationAction):
    def name(self) -> str:
        return "validate_return_form"


def describe_status(order: Order) -> str:
    items = _items_summary(order)
    head = f"Order {order.id} ({items}, {price_text(order.total, order.currency)})"
    eta = (
        f" Estimated delivery: {_day(datetime.combine(order.estimated_delivery, datetime.min.time()))}."
        if order.estimated_delivery
        else ""
    )
    if order.status == "placed":
        return f"{head} was placed on {_day(order.placed_at)} and is waiting for payment confirmation.{eta}"
    if order.status == "paid":
        return f"{head} is paid and being packed in our warehouse.{eta}"
    if order.status == "shipped":
        tracking = f" with {order.carrier}, tracking number {order.tracking_number}" if order.tracking_number else ""
        return f"{head} shipped on {_day(order.shipped_at)}{tracking}.{eta}"
    if order.status == "delivered":
        return f"{head} was delivered on {_day(order.delivered_at)}."
    if order.status == "cancelled":
        return f"{head} was cancelled. If you paid, the refund goes back to your original payment method."
    if order.status == "returned":
        return f"{head} was returned. The refund goes back to your original payment method."
    return f'{head} has status "{order.status}".'


class ActionCheckOrderStatus(UsesServices, Action):
    def name(self) -> str:
        return "action_check_order_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        order, events = verify(self.services, dispatcher, tracker)
        if order is None:
            return events
        dispatcher.utter_message(text=describe_status(order))
        # Forget the order id (keep the verified email) so the next look-up asks again.
        return [*events, SlotSet("order_id", None)]


class ActionCancelOrder(UsesServices, Action):
    """Checks a verified order can still be cancelled and asks the shopper to confirm."""

    def name(self) -> str:
        return "action_cancel_order"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        order, events = verify(self.services, dispatcher, tracker)
        if order is None:
            return [*events, SlotSet("awaiting_cancel_confirmation", False)]
        if self.services.orders.cancellable(order):
            total = price_text(order.total, order.currency)
            dispatcher.utter_message(
                text=f"Order {order.id} ({_items_summary(order)}, {total}) hasn't shipped "
                "yet, so I can cancel it. Do you want me to cancel it?",
                buttons=[
                    {"title": "Yes, cancel it", "payload": "/affirm"},
                    {"title": "No, keep it", "payload": "/deny"},
                ],
            )
            return [*events, SlotSet("awaiting_cancel_confirmation", True)]
        reasons = {
            "shipped": f"Order {order.id} already shipped on {_day(order.shipped_at)}, so it can't be "
            "cancelled any more. Once it arrives you can return it within "
            f"{self.services.orders.return_window_days} days for a refund.",
            "delivered": f"Order {order.id} was delivered on {_day(order.delivered_at)}, so it can't be "
            'cancelled. You can start a return instead: just say "I want to return it".',
            "cancelled": f"Order {order.id} is already cancelled.",
            "returned": f"Order {order.id} has already been returned.",
        }
        dispatcher.utter_message(
            text=reasons.get(
                order.status, f"Order {order.id} can't be cancelled in its current state ({order.status})."
            )
        )
        return [*events, SlotSet("order_id", None), SlotSet("awaiting_cancel_confirmation", False)]


# What the shop's documents are asked after a cancellation or a return is started.
REFUND_AFTER_CANCELLING = "I cancelled my order. When do I get my money back?"
HOW_TO_SEND_A_RETURN = "how to send a return"


class ActionConfirmCancelOrder(UsesServices, Action):
    """Carries out (or drops) the cancellation the shopper just confirmed (or declined)."""

    def name(self) -> str:
        return "action_confirm_cancel_order"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        done: list[EventType] = [SlotSet("awaiting_cancel_confirmation", False), SlotSet("order_id", None)]
        order_id = slot_text(tracker, "order_id")
        if not tracker.get_slot("awaiting_cancel_confirmation") or not order_id:
            dispatcher.utter_message(
                text="There's no cancellation waiting for confirmation. Which order would you like to cancel?"
            )
            return done
        if latest_intent(tracker) != "affirm":
            dispatcher.utter_message(response="utter_cancel_kept")
            return done
        if self.services.shop_db.cancel_order(order_id):
            # When the money comes back is the shop's policy: its documents say it, or nothing does.
            top, decision = best_passage(self.services, REFUND_AFTER_CANCELLING)
            refund = f"\n\n{top.excerpt(MAX_ANSWER_CHARS)}" if top is not None and decision == "answer" else ""
            dispatcher.utter_message(text=f"Done: order {order_id} is cancelled.{refund}")
        else:
            # The status changed between the check and the confirmation (e.g. it shipped).
            dispatcher.utter_message(
                text=f"Sorry, I couldn't cancel order {order_id}: it has just left our warehouse. "
                "You can return it once it arrives."
            )
        return done


class ActionRequestReturn(UsesServices, Action):
    """Starts a return when the verified order was delivered within the return window."""

    def name(self) -> str:
        return "action_request_return"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        order, events = verify(self.services, dispatcher, tracker)
        if order is None:
            return events
        events = [*events, SlotSet("order_id", None)]
        window = self.services.orders.return_window_days
        check = self.services.orders.return_check(order)
        if check.outcome != "not_delivered":
            if check.outcome == "eligible":
                return_id = self.services.shop_db.create_return(order.id, reason=None)
                # How to send it back is the shop's process: its documents say it, or nothing does.
                top, decision = best_passage(self.services, HOW_TO_SEND_A_RETURN)
                how = f"\n\n{top.excerpt(MAX_ANSWER_CHARS)}" if top is not None and decision == "answer" else ""
                dispatcher.utter_message(text=f"Your return {return_id} for order {order.id} is started.{how}")
            else:
                dispatcher.utter_message(
                    text=f"Order {order.id} was delivered on {_day(order.delivered_at)}, {check.days} "
                    f"days ago, which is outside our {window}-day return window. If an item is faulty it "
                    "may still be covered by the warranty: our customer care team can check it: say "
                    '"talk to a human".'
                )
            return events
        reasons = {
            "placed": f"Order {order.id} hasn't shipped yet, so there's nothing to return: you can "
            'cancel it instead (say "cancel my order").',
            "paid": f"Order {order.id} hasn't shipped yet, so there's nothing to return: you can "
            'cancel it instead (say "cancel my order").',
            "shipped": f"Order {order.id} is still on its way. Once it's delivered you have {window} "
            "days to return it.",
            "cancelled": f"Order {order.id} was cancelled, so there's nothing to return.",
            "returned": f"Order {order.id} has already been returned.",
        }
        dispatcher.utter_message(
            text=reasons.get(order.status, f"Order {order.id} can't be returned in its current state ({order.status}).")
        )
        return events
