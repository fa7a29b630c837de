"""The Responses API over any provider, its state kept here: request.py plans a request, run.py carries it
out through the turn pipeline (blocking, streamed or in the background), events.py writes the stream,
items.py translates items and messages, present.py the response object, store.py stored responses,
tokens.py input token counts. Conversations are services/conversations.py's."""
