"""CRM integrations: one adapter interface, HubSpot and amoCRM adapters, their sandboxes."""
