"""Local stand-ins for outside services, built from their documented requests and answers."""
