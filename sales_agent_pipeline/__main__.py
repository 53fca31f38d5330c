"""`python -m sales_agent_pipeline` is `sales-agent`."""

from sales_agent_pipeline.cli.main import app

app()
