"""The playground in Chromium: the API key, the assistants with their live status, a small screen
and the keyboard alone."""
import os
import struct

from .helpers import connect, expect, make_assistant, replies, send, wait_for_reply

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_a_wrong_key_is_refused_then_the_right_one_connects_and_stays_in_this_tab_only(page, server, console):
    console.expect_status(401)
    key_field = page.get_by_label("API key")
    key_field.fill("sk-asst-not-a-key")
    page.get_by_role("button", name="Connect").click()
    expect(page.get_by_role("alert")).to_contain_text("Invalid or revoked API key.")
    expect(page.get_by_role("heading", name="Assistants", exact=True)).to_be_hidden()
    expect(key_field).to_be_focused()
    assert page.evaluate("() => sessionStorage.length") == 0

    make_assistant(server, "Helper")
    connect(page, server.api_key)
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(page.get_by_role("list", name="Assistants")
           .get_by_role("button", name="Helper", exact=True)).to_be_visible()
    storage = page.evaluate("() => ({session: sessionStorage.getItem('assistants_app.apiKey'),"
                            " local: localStorage.length, cookie: document.cookie})")
    assert storage == {"session": server.api_key, "local": 0, "cookie": ""}
    assert page.context.cookies() == []

    other_tab = page.context.new_page()  # sessionStorage is this tab's: another tab starts unconnected
    other_tab.goto(server.url + "/")
    expect(other_tab.get_by_role("heading", name="Chat with your assistants")).to_be_visible()
    expect(other_tab.get_by_label("API key")).to_have_value("")
    other_tab.close()


def test_create_see_live_status_edit_and_delete_an_assistant(page, server, fake):
    connect(page, server.api_key)
    expect(page.get_by_text("No assistants yet")).to_be_visible()

    page.get_by_role("button", name="New assistant").click()
    dialog = page.get_by_role("dialog", name="New assistant")
    expect(dialog.get_by_label("Name")).to_be_focused()
    expect(dialog.get_by_text("The provider offers 3 models")).to_be_visible()
    options = dialog.locator("#model-options option")
    assert [options.nth(i).get_attribute("value") for i in range(options.count())] == sorted(fake.models)
    dialog.get_by_label("Name").fill("Helper")
    dialog.get_by_label("Model").fill("gpt-4o-mini")
    dialog.get_by_label("Instructions").fill("Answer briefly.")
    dialog.get_by_label("Temperature").fill("3")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog.get_by_role("alert")).to_contain_text("Temperature is a number from 0 to 2")
    dialog.get_by_label("Temperature").fill("0.4")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()

    item = page.get_by_role("listitem").filter(has=page.get_by_role("button", name="Helper", exact=True))
    expect(item.locator(".badge")).to_have_text("AVAILABLE")
    expect(page.get_by_role("list", name="Assistants")
           .get_by_role("button", name="Helper", exact=True)).to_be_focused()
    [stored] = server.request("GET", "/assistants").body
    assert {k: stored["details"][k] for k in ("name", "model", "instructions", "temperature")} == {
        "name": "Helper", "model": "gpt-4o-mini", "instructions": "Answer briefly.", "temperature": 0.4}

    # Edit: the form shows the assistant; a model the provider lacks makes it UNAVAILABLE, and says why.
    item.get_by_role("button", name="Edit Helper").click()
    dialog = page.get_by_role("dialog", name="Edit Helper")
    expect(dialog.get_by_label("Instructions")).to_have_value("Answer briefly.")
    expect(dialog.get_by_label("Temperature")).to_have_value("0.4")
    dialog.get_by_label("Model").fill("llama9")
    dialog.get_by_role("button", name="Save").click()
    expect(item.locator(".badge")).to_have_text("UNAVAILABLE")
    why = item.get_by_text("Why is Helper unavailable?")
    reason = item.get_by_role("listitem").filter(has_text="llama9")
    expect(reason).to_be_hidden()  # readable on demand
    why.click()
    expect(reason).to_be_visible()
    [stored] = server.request("GET", "/assistants").body
    assert stored["details"]["instructions"] == "Answer briefly." and stored["details"]["model"] == "llama9"

    # Live: once the provider offers the model, checking again says so (nothing else changed).
    fake.models.append("llama9")
    page.get_by_role("button", name="Check status").click()
    expect(item.locator(".badge")).to_have_text("AVAILABLE")

    # Delete asks first; Cancel keeps it.
    item.get_by_role("button", name="Delete Helper").click()
    confirm = page.get_by_role("dialog", name="Delete assistant")
    expect(confirm).to_contain_text("Delete Helper? Its conversations are deleted with it.")
    expect(confirm.get_by_role("button", name="Cancel")).to_be_focused()
    confirm.get_by_role("button", name="Cancel").click()
    expect(item).to_be_visible()
    item.get_by_role("button", name="Delete Helper").click()
    confirm.get_by_role("button", name="Delete").click()
    expect(item).to_have_count(0)
    expect(page.get_by_role("status").filter(has_text="Deleted Helper.")).to_be_visible()
    assert server.request("GET", "/assistants").body == []


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_usable_at_375_px_by_keyboard_alone(page, server, fake, tmp_path):
    answers = {"What now?": "Here is a **plan**:\n\n1. Pick an assistant\n2. Ask it something\n\n"
                            "```python\nprint('hello')\n```",
               "Is it streamed?": "Yes: piece by piece, as the model writes it. **Stop** ends it early."}
    fake.reply = lambda conversation: answers[conversation[-1]["content"]]
    make_assistant(server, "Helper", instructions="Answer briefly.")
    make_assistant(server, "Release-notes writer for the mobile and the web apps", model="llama9")
    page.set_viewport_size({"width": 375, "height": 812})
    page.reload()

    page.keyboard.press("Tab")
    expect(page.get_by_label("API key")).to_be_focused()
    page.keyboard.type(server.api_key)
    page.keyboard.press("Enter")
    helper = page.get_by_role("list", name="Assistants").get_by_role("button", name="Helper", exact=True)
    expect(helper).to_be_visible()
    for _ in range(12):  # Tab through the header to the assistant
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.textContent") == "Helper":
            break
    expect(helper).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_label("Message")).to_be_focused()
    page.keyboard.type("What now?")
    page.keyboard.press("Enter")
    wait_for_reply(page, "Here is a plan:\nPick an assistant\nAsk it something\nprint('hello')")
    expect(replies(page).last.locator("ol > li")).to_have_count(2)

    assert page.evaluate("() => document.documentElement.scrollWidth") <= 375  # nothing scrolls sideways
    shot = page.screenshot(full_page=True)
    assert png_size(shot)[0] == 375
    (tmp_path / "playground-375.png").write_bytes(shot)
    if os.environ.get("UPDATE_SCREENSHOTS"):  # the README's picture: UPDATE_SCREENSHOTS=1 make test
        page.set_viewport_size({"width": 1100, "height": 760})
        send(page, "Is it streamed?")
        wait_for_reply(page, "Yes: piece by piece, as the model writes it. Stop ends it early.")
        page.locator("#assistant-list .why summary").first.click()
        page.get_by_label("Message").blur()
        page.screenshot(path=os.path.join(ROOT, "docs", "playground.png"))


def test_the_page_is_served_with_its_security_headers(page, server, console):
    """In the browser too: the page and its modules carry the policy, and Trusted Types refuse HTML."""
    console.expect("TrustedHTML")
    response = page.goto(server.url + "/")
    headers = response.headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert page.evaluate("""() => { try { document.body.innerHTML = '<b>x</b>'; return 'assigned'; }
                                    catch (error) { return error.name; } }""") == "TypeError"
