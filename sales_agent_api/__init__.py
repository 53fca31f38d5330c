"""The FastAPI shell: webhook ingestion and the operator REST API."""
