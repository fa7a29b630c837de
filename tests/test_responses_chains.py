"""A previous_response_id chain read back in one query: every response's input and output reach the
provider, oldest first, however long the chain; a chain is the caller's own all the way back."""
import openai
import pytest
from sqlalchemy import event

from .helpers import make_key, sdk, wait_for_runs


def test_a_long_chain_reaches_the_provider_in_order_in_one_query(app, fake):
    client = sdk(app, make_key(app))
    previous = None
    for n in range(6):
        previous = client.responses.create(model="gpt-4", input=f"Q{n}", previous_response_id=previous).id
    statements = []
    with app.app_context():
        engine = app.extensions["sqlalchemy"].engine

        def listen(connection, cursor, statement, *rest):
            statements.append(statement)

        event.listen(engine, "before_cursor_execute", listen)
        try:
            client.responses.create(model="gpt-4", input="Q6", previous_response_id=previous)
        finally:
            event.remove(engine, "before_cursor_execute", listen)
    sent = [(m["role"], m["content"]) for m in fake.requests_to("/chat/completions")[-1].json["messages"]]
    expected = [pair for n in range(6) for pair in (("user", f"Q{n}"), ("assistant", f"Echo: Q{n}"))]
    assert sent == [*expected, ("user", "Q6")]
    reads = [s for s in statements if "FROM responses" in s and "previous_response_id" in s]
    assert len([s for s in reads if "WITH RECURSIVE" in s]) == 1 and len(reads) == 1, reads
    wait_for_runs(app)


def test_a_chain_broken_by_another_tenant_or_a_deleted_response_is_not_found(app, fake):
    mine, theirs = sdk(app, make_key(app)), sdk(app, make_key(app, tenant="other"))
    first = mine.responses.create(model="gpt-4", input="one")
    second = mine.responses.create(model="gpt-4", input="two", previous_response_id=first.id)
    third = mine.responses.create(model="gpt-4", input="three", previous_response_id=second.id)
    with pytest.raises(openai.NotFoundError, match=third.id):
        theirs.responses.create(model="gpt-4", input="four", previous_response_id=third.id)
    mine.responses.delete(second.id)
    with pytest.raises(openai.NotFoundError, match=second.id):  # the missing link is named
        mine.responses.create(model="gpt-4", input="four", previous_response_id=third.id)
    wait_for_runs(app)
