"""The shop page and its chat widget in a real browser (headless Debian chromium) against the real
Rasa server, action server and page server. Screenshots land in results/screenshots/."""

from __future__ import annotations

import re

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.e2e]
TIMEOUT = 60_000


def open_chat(page) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("button", name="Open chat with the shop assistant").click()
    page.get_by_label("Your message").wait_for(state="visible")


def say(page, text: str) -> None:  # type: ignore[no-untyped-def]
    before = page.locator(".msg.bot").count()
    box = page.get_by_label("Your message")
    box.fill(text)
    box.press("Enter")
    page.locator(".msg.bot").nth(before).wait_for(timeout=TIMEOUT)


def test_the_page_shows_the_catalog_with_prices_and_ratings(page):
    assert page.title() == "Northstar Goods"
    assert page.locator(".grid .product").count() >= 300
    first = page.locator(".grid .product").first
    assert re.match(r"\$\d+\.\d\d", first.locator(".price").inner_text())
    first.locator("a").click()
    assert page.locator(".detail:target h2").is_visible()


def test_greet_and_get_a_reply(page):
    open_chat(page)
    say(page, "hello")
    assert "assistant" in page.locator(".msg.bot .msg-text").last.inner_text().lower()


def test_product_cards_respect_the_price_limit_and_thumbs_send_feedback(page):
    open_chat(page)
    say(page, "show me running shoes under 120")
    page.locator(".cards .card").first.wait_for(timeout=TIMEOUT)
    prices = [float(p.strip("$")) for p in page.locator(".card .card-price").all_inner_texts()]
    assert prices and all(p <= 120 for p in prices)
    assert all(page.locator(".card .card-reason").all_inner_texts())
    bots = page.locator(".msg.bot").count()
    page.locator(".card .thumb-up").first.click()
    page.locator(".msg.bot").nth(bots).wait_for(timeout=TIMEOUT)
    assert "Thanks" in page.locator(".msg.bot .msg-text").last.inner_text()


def test_a_quick_reply_is_pressed_and_answered(page):
    open_chat(page)
    say(page, "what payment methods do you accept?")
    reply = page.locator(".quick-reply", has_text="Yes, thanks")
    reply.wait_for(timeout=TIMEOUT)
    bots = page.locator(".msg.bot").count()
    reply.click()
    page.locator(".msg.bot").nth(bots).wait_for(timeout=TIMEOUT)
    assert "Glad it helped" in page.locator(".msg.bot .msg-text").last.inner_text()
    assert page.locator(".msg.user").last.inner_text() == "Yes, thanks"


def test_a_reload_keeps_the_conversation(page):
    open_chat(page)
    say(page, "are you a bot?")
    transcript = page.locator(".chat-log").inner_text()
    session = page.evaluate("JSON.parse(localStorage.getItem('shop-assistant')).sessionId")
    page.reload()
    page.get_by_label("Your message").wait_for(state="visible")  # reopened as it was
    assert page.locator(".chat-log").inner_text() == transcript
    assert page.evaluate("JSON.parse(localStorage.getItem('shop-assistant')).sessionId") == session
    say(page, "thanks")  # the same conversation goes on with the server


def test_html_in_messages_is_shown_as_text(page):
    open_chat(page)
    attack = "<img src=x onerror=alert(1)>"
    say(page, attack)
    assert page.locator(".msg.user").last.inner_text() == attack
    assert page.locator(".chat-log img").count() == 0
    assert page.dialogs == []


def test_keyboard_only(page):
    page.get_by_role("button", name="Open chat with the shop assistant").focus()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == "Your message"
    page.keyboard.type("hi")
    before = page.locator(".msg.bot").count()
    page.keyboard.press("Enter")
    page.locator(".msg.bot").nth(before).wait_for(timeout=TIMEOUT)
    page.keyboard.press("Escape")
    assert page.locator("#chat-panel").is_hidden()
