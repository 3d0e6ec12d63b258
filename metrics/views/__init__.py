"""The metrics pages: the god-view and its drill-downs (pages), and the growth review."""
