"""eadesk's sandbox: eadesk wired to a built-in Telegram emulator, with a web page.

``sandbox.emulator`` is the Telegram Bot API emulator (the contract is in EMULATOR.md);
``python -m bot sandbox`` runs the sandbox.
"""
