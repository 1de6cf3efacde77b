"""What the service does with an item: process an event, evaluate, write back, roll up,
sweep, audit. Asks the queue for follow-up work only through `followups.FollowUps`."""
