"""The held-out shopper conversations (tests/conversations/shoppers.yml, written apart from the
training data) over REST against a real stack of their own: some of them cancel and return
orders, so they get a fresh shop DB rather than the one the other e2e tests share.

The figures (completion rate, reply times) are `make bench-conversations`'s; this test holds
the floor under them and the invariants that must never break: every turn gets a reply, and
no reply claims an outage when nothing failed."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from benchmarks.bench_conversations import DEFAULT_SET, OUTAGE, run_set
from bot.stack import DEFAULT_MODEL, Stack, free_port

pytestmark = pytest.mark.e2e

# Below this, something regressed. Measured 0.735 (and 0.485 before issue #26's changes); the
# margin of five conversations absorbs a model retrained from scratch on another machine.
COMPLETION_FLOOR = 0.65


@pytest.fixture(scope="module")
def conversation_stack(tmp_path_factory: pytest.TempPathFactory, generated_shop: Path) -> Iterator[Stack]:
    if not DEFAULT_MODEL.exists():
        pytest.fail(f"no trained model at {DEFAULT_MODEL}: run `make train` first (make test does)")
    folder = tmp_path_factory.mktemp("conversations")
    shutil.copy(generated_shop / "shop.db", folder / "shop.db")
    env = {
        "SHOP_DATABASE_URL": f"sqlite:///{folder / 'shop.db'}",
        "RASA_TRACKER_DB": str(folder / "tracker.db"),
        # Every shopper of the set comes from this machine's one address.
        "SHOP_MAX_FAILED_VERIFICATIONS_PER_CLIENT": "100000",
    }
    stack = Stack(rasa_port=free_port(), actions_port=free_port(), web_port=None, log_dir=folder / "logs", env=env)
    stack.start()
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
