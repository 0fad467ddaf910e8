"""The channel guard: a turn never ends silent, and only a failed action reads as an outage."""

from __future__ import annotations

import asyncio
import logging

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from bot.channels import GAP, UNAVAILABLE, guarded


def turn(on_message) -> list[str]:
    out = CollectingOutputChannel()
    asyncio.run(guarded(on_message)(UserMessage("yes", out, "shopper")))
    return [m.get("text") for m in out.messages]


def test_a_failed_action_gets_the_outage_apology():
    async def failing(message: UserMessage) -> None:
        logging.getLogger("rasa.core.processor").error(
            "Encountered an exception while running action 'order_status_form'.Bot will continue"
        )

    assert turn(failing) == [UNAVAILABLE]


def test_a_turn_the_dialogue_had_nothing_for_gets_a_question_not_an_outage():
    async def silent(message: UserMessage) -> None:
        logging.getLogger("rasa.core.processor").debug("Predicted next action 'action_listen'")

    assert turn(silent) == [GAP]


def test_a_reply_is_left_alone_and_failures_of_other_turns_do_not_leak_in():
    async def replying(message: UserMessage) -> None:
        await message.output_channel.send_response(message.sender_id, {"text": "Hi!"})

    logging.getLogger("rasa.core.processor").error("Encountered an exception while running action 'x'")
    assert turn(replying) == ["Hi!"]

    async def silent(message: UserMessage) -> None:
        return None

    assert turn(silent) == [GAP]


def test_an_unreadable_hand_off_state_lets_the_assistant_answer(monkeypatch):
    from bot.agent_console import relay

    async def broken(message: UserMessage) -> bool:
        raise OSError("shop DB unreachable")

    async def replying(message: UserMessage) -> None:
        await message.output_channel.send_response(message.sender_id, {"text": "Hi!"})

    monkeypatch.setattr(relay, "intercept", broken)
    assert turn(replying) == ["Hi!"]
