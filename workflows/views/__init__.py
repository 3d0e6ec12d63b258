"""The workflows pages, one module per part: lists (inside the client and person pages), the
account manager's week, postponements, tactics, and the pod meeting and growth review."""
