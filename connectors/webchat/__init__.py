"""The website chat: an embeddable widget (static/) talking to eadesk over HTTP and a
WebSocket; each visitor's conversation a dialog."""
