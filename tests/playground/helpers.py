"""What a person does on the playground, by the names a screen reader reads out."""
import os

import pytest

try:
    from playwright.sync_api import Page, expect
except ImportError:  # CI must run the browser tests; elsewhere they are skipped (conftest.py says how)
    if os.environ.get("CI", "").lower() == "true":
        raise
    pytest.skip("browser tests need the playwright package: make install, and apt-get install -y chromium",
                allow_module_level=True)

WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def make_assistant(server, name="Helper", model="gpt-4", **details) -> dict:
    reply = server.request("POST", "/assistants", {"details": {"name": name, "model": model, **details}})
    assert reply.status == 200, reply.body
    return reply.body


def connect(page: Page, key: str) -> None:
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Connect").click()
    expect(page.get_by_role("heading", name="Assistants", exact=True)).to_be_visible()


def open_conversation(page: Page, name: str) -> None:
    page.get_by_role("list", name="Assistants").get_by_role("button", name=name, exact=True).click()
    expect(conversation(page)).to_be_visible()
    expect(page.get_by_label("Message")).to_be_focused()


def conversation(page: Page):
    return page.get_by_role("log", name="Conversation")


def replies(page: Page):
    return conversation(page).locator("article.assistant")


def send(page: Page, text: str) -> None:
    field = page.get_by_label("Message")
    field.fill(text)
    field.press("Enter")


def wait_for_reply(page: Page, text: str) -> None:
    """The last reply is complete (no longer aria-busy) and reads `text`; Stop is gone."""
    last = replies(page).last
    expect(last).not_to_have_attribute("aria-busy", "true")
    expect(last.locator(".body")).to_have_text(text, use_inner_text=True)
    expect(page.get_by_role("button", name="Stop")).to_be_hidden()


def history(server, thread_id: str) -> list[tuple[str, str | None]]:
    reply = server.request("GET", f"/openai/threads/{thread_id}/messages")
    assert reply.status == 200, reply.body
    return [(message["role"], message["content"]) for message in reply.body["data"]]


def stored_conversation(page: Page) -> dict | None:
    return page.evaluate("() => JSON.parse(sessionStorage.getItem('assistants_app.conversation'))")
