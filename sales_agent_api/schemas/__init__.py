"""Response and request models of the REST API (ORM rows never leave through the API)."""
