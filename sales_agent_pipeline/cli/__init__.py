"""The `sales-agent` command line."""
