"""amoCRM: the client's deals on the card, looked up through amoCRM's REST API v4."""
