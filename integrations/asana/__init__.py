"""Asana integration: the client, mapping, sync, webhooks and a local sandbox server."""
