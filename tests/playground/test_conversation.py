"""The playground in Chromium: a streamed conversation, Stop, a reload, provider failures, tool calls
and model output that tries to be HTML."""
from ..fake_openai import Fault

from .helpers import (WEATHER_TOOL, connect, conversation, expect, history, make_assistant, open_conversation,
                      replies, send, stored_conversation, wait_for_reply)

# Records the last reply's text at every change while it streams (aria-busy), and once when it ends.
WATCH_REPLY = """() => {
  window.seen = [];
  const log = document.querySelector('[role=log]');
  new MutationObserver(() => {
    const replies = log.querySelectorAll('article.assistant');
    const last = replies[replies.length - 1];
    if (last) window.seen.push({busy: last.getAttribute('aria-busy') === 'true',
                                text: last.querySelector('.body').innerText});
  }).observe(log, {childList: true, subtree: true, characterData: true, attributes: true});
}"""


def start(page, server, **details):
    assistant = make_assistant(server, "Helper", **details)
    connect(page, server.api_key)
    open_conversation(page, "Helper")
    return assistant


def test_a_reply_streams_in_piece_by_piece(page, server, fake):
    start(page, server)
    fake.chunk_delay = 0.25
    page.evaluate(WATCH_REPLY)
    field = page.get_by_label("Message")
    field.type("Hello")
    field.press("Shift+Enter")  # a new line, not a send
    field.type("there")
    expect(field).to_have_value("Hello\nthere")
    field.press("Enter")

    expect(field).to_have_value("")
    expect(page.get_by_role("button", name="Stop")).to_be_visible()
    wait_for_reply(page, "Echo: Hello\nthere")
    mine = conversation(page).locator("article.user")
    expect(mine).to_have_text("YouHello\nthere")
    final = "Echo: Hello\nthere"
    growing = [s["text"] for s in page.evaluate("window.seen") if s["busy"] and s["text"]]
    partial = {text for text in growing if final.startswith(text.rstrip()) and text != final}
    assert len(partial) >= 2, growing  # seen growing in at least two steps before the end

    thread_id = stored_conversation(page)["threadId"]
    assert history(server, thread_id) == [("user", "Hello\nthere"), ("assistant", "Echo: Hello\nthere")]


# Keeps the last reply's first paragraph once a second one has begun, and counts its removals.
KEEP_FIRST_PARAGRAPH = """() => {
  window.kept = null;
  window.removed = 0;
  const log = document.querySelector('[role=log]');
  new MutationObserver((records) => {
    const body = [...log.querySelectorAll('article.assistant .body')].pop();
    if (!window.kept && body && body.querySelectorAll('p').length >= 2) window.kept = body.querySelector('p');
    for (const record of records) window.removed += [...record.removedNodes].includes(window.kept);
  }).observe(log, {childList: true, subtree: true});
}"""


def test_a_finished_paragraph_is_drawn_once(page, server, fake):
    start(page, server)
    fake.chunk_delay = 0.1
    first = "The first paragraph, finished by the blank line after it."
    second = "The second arrives word by word, and the first stays the node it was."
    fake.reply = lambda messages: f"{first}\n\n{second}"
    page.evaluate(KEEP_FIRST_PARAGRAPH)
    send(page, "Two paragraphs, please")
    reply = replies(page).last
    expect(reply).not_to_have_attribute("aria-busy", "true")
    expect(reply.locator(".body p")).to_have_text([first, second])
    assert page.evaluate("""() => [window.kept?.textContent, window.removed,
        window.kept === document.querySelector('article.assistant:last-of-type .body p')]""") == [
            first, 0, True]


def test_stop_aborts_the_reply_and_nothing_of_it_is_kept(page, server, fake, console):
    # Sent again at once, the message may meet the stopped turn still closing (409): the page waits
    # for it and sends again; Chromium logs the 409 all the same.
    console.expect_status(409)
    start(page, server)
    fake.chunk_delay = 0.4
    fake.reply = lambda messages: "one two three four five six seven eight nine ten"
    send(page, "Count to ten")
    expect(replies(page).last).to_contain_text("one two")
    page.get_by_role("button", name="Stop").click()

    expect(page.get_by_role("status").filter(has_text="Stopped.")).to_be_visible()
    expect(replies(page)).to_have_count(0)  # nothing half-written
    expect(conversation(page).locator("article.user")).to_have_count(0)
    expect(page.get_by_label("Message")).to_have_value("Count to ten")
    expect(page.get_by_role("button", name="Stop")).to_be_hidden()

    fake.chunk_delay = 0
    fake.reply = None
    page.get_by_role("button", name="Send").click()  # at once: the service may still be closing that turn
    wait_for_reply(page, "Echo: Count to ten")
    assert history(server, stored_conversation(page)["threadId"]) == [
        ("user", "Count to ten"), ("assistant", "Echo: Count to ten")]


def test_after_a_reload_the_key_and_the_conversation_are_back(page, server):
    start(page, server)
    send(page, "Remember me")
    wait_for_reply(page, "Echo: Remember me")
    saved = stored_conversation(page)

    page.reload()
    expect(page.get_by_role("heading", name="Helper")).to_be_visible()
    expect(conversation(page).locator("article.user")).to_have_text("YouRemember me")
    wait_for_reply(page, "Echo: Remember me")
    assert stored_conversation(page) == saved
    send(page, "Still there?")  # the same thread goes on
    wait_for_reply(page, "Echo: Still there?")
    assert len(history(server, saved["threadId"])) == 4

    page.get_by_role("button", name="New conversation").click()
    expect(conversation(page).locator("article")).to_have_count(0)
    page.reload()
    expect(page.get_by_role("heading", name="Helper")).to_be_visible()
    expect(page.get_by_label("Message")).to_be_focused()
    expect(conversation(page).locator("article")).to_have_count(0)
    assert stored_conversation(page) == {"agentId": saved["agentId"], "threadId": None}


def test_provider_failures_show_an_alert_and_keep_the_message(page, server, fake, console):
    console.expect_status(429, 502)
    console.expect(r"^Failed to load resource: net::ERR_FAILED")
    start(page, server)
    alert = page.get_by_role("alert")
    field = page.get_by_label("Message")

    fake.add_fault(Fault("status", status=429, retry_after=2, path="/chat/completions"))
    send(page, "Hello?")
    expect(alert).to_contain_text("is rate limiting this credential (HTTP 429, rate_limit_exceeded); "
                                  "retry after 2 s")
    expect(field).to_have_value("Hello?")
    expect(conversation(page).locator("article")).to_have_count(0)

    fake.add_fault(Fault("status", status=500, path="/chat/completions"))
    field.press("Enter")
    expect(alert).to_contain_text("HTTP 500")
    expect(field).to_have_value("Hello?")

    # Mid-stream: the first words arrive, then the provider fails; they go again, with the turn.
    fake.chunk_delay = 0.2
    fake.reply = lambda messages: "A reply that breaks off part of the way"
    fake.add_fault(Fault("error_event", after_chunks=4, path="/chat/completions"))
    page.evaluate(WATCH_REPLY)
    field.press("Enter")
    expect(alert).to_contain_text("reported an error while answering for model 'gpt-4' (server_error)")
    assert any(seen["text"].startswith("A") for seen in page.evaluate("window.seen"))  # it had begun
    expect(replies(page)).to_have_count(0)
    expect(field).to_have_value("Hello?")

    # A lost connection (the request never reaches the service).
    page.route("**/openai/chat", lambda route: route.abort())
    field.press("Enter")
    expect(alert).to_contain_text("Lost the connection to the service")
    expect(field).to_have_value("Hello?")
    page.unroute("**/openai/chat")

    assert history(server, stored_conversation(page)["threadId"]) == []  # a failed turn writes nothing
    fake.reply = None
    field.press("Enter")
    wait_for_reply(page, "Echo: Hello?")
    expect(alert).to_have_count(0)


def test_a_tool_call_shows_a_form_that_sends_the_outputs_back(page, server, fake):
    start(page, server, tools=[WEATHER_TOOL])
    fake.queue_tool_calls([{"name": "get_weather", "arguments": '{"city": "Paris"}'}])
    send(page, "Weather in Paris?")
    reply = replies(page).last
    expect(reply).to_contain_text('get_weather({ "city": "Paris" })')
    tool_form = page.get_by_role("form", name="Tool outputs")
    output = tool_form.get_by_label("Output of get_weather")
    expect(output).to_be_focused()

    page.reload()  # still waiting for the output after a reload
    expect(page.get_by_role("form", name="Tool outputs")
           .get_by_label("Output of get_weather")).to_be_visible()
    page.get_by_label("Output of get_weather").fill("18 °C, sunny")
    page.get_by_role("button", name="Send outputs").click()
    expect(conversation(page).locator("article.tool")).to_contain_text("18 °C, sunny")
    wait_for_reply(page, "Echo: Weather in Paris?")
    expect(page.get_by_role("form", name="Tool outputs")).to_have_count(0)

    sent = fake.requests_to("/chat/completions")[-1].json["messages"]
    assert sent[-1]["role"] == "tool" and sent[-1]["content"] == "18 °C, sunny"
    assert [role for role, _ in history(server, stored_conversation(page)["threadId"])] == [
        "user", "assistant", "tool", "assistant"]
    page.reload()
    expect(conversation(page).locator("article.tool")).to_contain_text("18 °C, sunny")
    expect(page.get_by_role("form", name="Tool outputs")).to_have_count(0)


def test_model_output_cannot_inject_html_or_script(page, server, fake):
    probes = []
    page.on("dialog", lambda dialog: (probes.append(dialog.message), dialog.dismiss()))
    page.on("request", lambda request: "127.0.0.1:9" in request.url and probes.append(request.url))
    fake.reply = lambda messages: (
        '<img src=x onerror="window.pwned=1;alert(1)">\n\n<script>window.pwned=2</script>\n\n'
        "[click me](javascript:window.pwned=3) and ![pixel](http://127.0.0.1:9/track.png) "
        "and <b onmouseover=alert(4)>bold?</b> and **really bold** and `<i>code</i>`")
    start(page, server)
    send(page, "<svg onload=alert(5)>")
    reply = replies(page).last
    expect(reply).not_to_have_attribute("aria-busy", "true")

    expect(reply).to_contain_text('<img src=x onerror="window.pwned=1;alert(1)">')
    expect(reply).to_contain_text("<script>window.pwned=2</script>")
    expect(reply.locator("strong")).to_have_text("really bold")
    expect(reply.locator("code")).to_have_text("<i>code</i>")
    log = conversation(page)
    assert log.locator("img, script, svg, b, i, iframe").count() == 0
    assert reply.get_by_role("link").count() == 1  # the image, as a link; javascript: stays text
    expect(reply.get_by_role("link")).to_have_attribute("href", "http://127.0.0.1:9/track.png")
    expect(reply).to_contain_text("click me")
    expect(log.locator("article.user")).to_contain_text("<svg onload=alert(5)>")
    reply.hover()
    page.reload()  # from the stored history too
    expect(replies(page).last).to_contain_text("<script>window.pwned=2</script>")
    assert log.locator("img, script, svg, b, i, iframe").count() == 0
    assert page.evaluate("() => window.pwned") is None
    assert probes == []
