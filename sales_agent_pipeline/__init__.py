"""Sales Agent Pipeline: HubSpot form leads to personalised Gmail drafts and HubSpot tasks."""
