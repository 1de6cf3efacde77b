"""The queue's side of the work: tasks and their retry policy, the outbox relay, the
consumer, and `Runtime` (resources plus tasks)."""
