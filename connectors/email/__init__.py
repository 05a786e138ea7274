"""The e-mail channel: a mailbox read over IMAP (IDLE, polling when it must), replies sent
over SMTP, each mail thread a dialog."""
