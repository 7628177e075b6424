"""The outbox's other end: ``ratschlag worker`` turns queued mails into e-mails (docs/notifications.md).

``text`` says what a notification is about, in the reader's language (the bell, the API and the
e-mails share it); ``mail`` composes each e-mail with the standard library's ``email`` package;
``worker`` claims due mails, sends them over SMTP (or writes ``.eml`` files when no SMTP server
is configured), retries with backoff, and runs the deadline and digest passes.
"""
