"""Connectors: protocols, then adapters on the official HubSpot and Google SDKs."""
