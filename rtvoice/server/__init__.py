"""The network server: many caption streams over WebSockets from one process and one loaded model
(``rtvoice serve``; protocol in docs/server-protocol.md), and a client for it (``rtvoice stream``)."""
