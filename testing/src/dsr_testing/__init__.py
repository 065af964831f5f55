"""What the tests share: the infrastructure of a test session (infra), tokens
from the session's identity service (tokens, support.auth), waiting on
conditions and feeding or reading topics (support), one service started for a
test (harness), the whole system (stack, register_world), and the use cases
over in-memory repositories (scheduler_world)."""
