"""The team group's side of every dialog: the gateway into the group (bots, budgets, the topic
healed), the topics' looks, the feed of client messages and their edits, notices, the card and
the board. `Desk` wires them to the outbox."""
