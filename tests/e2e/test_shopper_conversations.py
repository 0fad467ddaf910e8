"""The held-out shopper conversations (tests/conversations/shoppers.yml, written apart from the
training data) over REST against a real stack of their own: some of them cancel and return
orders, so they get a fresh shop DB rather than the one the other e2e tests share.

The figures (completion rate, reply times) are `make bench-conversations`'s; this test holds
the floor under them and the invariants that must never break: every turn gets a reply, and
no reply claims an outage when nothing failed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from benchmarks.bench_conversations import DEFAULT_SET, OUTAGE, run_set
from bot.stack import Stack
from tests.e2e.conftest import start_private_stack

pytestmark = pytest.mark.e2e

# Below this, something regressed. Measured 0.912 (0.750 the day before, 0.485 before issue
# #26's changes); the margin of about six conversations absorbs a model retrained from scratch
# on another machine.
COMPLETION_FLOOR = 0.82


@pytest.fixture(scope="module")
def conversation_stack(tmp_path_factory: pytest.TempPathFactory, generated_shop: Path) -> Iterator[Stack]:
    # Every shopper of the set comes from this machine's one address.
    one_address = {"SHOP_MAX_FAILED_VERIFICATIONS_PER_CLIENT": "100000"}
    stack = start_private_stack(tmp_path_factory.mktemp("conversations"), generated_shop, one_address)
    yield stack
    stack.stop()


def test_the_held_out_conversations_hold_up(conversation_stack):
    conversations = yaml.safe_load(DEFAULT_SET.read_text(encoding="utf-8"))["conversations"]
    assert len(conversations) >= 40
    result = run_set(conversation_stack.rasa_url, conversations)
    failed = "\n".join(f"{f['conversation']}: {f['user']!r} -> {f['reply'][:120]!r}" for f in result["failures"])
    assert result["turns_without_reply"] == 0, failed
    assert result["false_outage_messages"] == 0, f"{OUTAGE!r} without a failure:\n{failed}"
    assert result["completion_rate"] >= COMPLETION_FLOOR, failed
