"""What the shells (CLI, API, Dagster) call: one function per user action, over the repositories."""
