"""/v1/threads/{thread_id}/runs (step 3)."""
