"""Connectors: the adapters of the ports on the official HubSpot and Google SDKs."""
