"""The lead workflow as plain Python: the lead state, the step table and the runner.

Dagster (`defs/`) is a shell over it: one op per row of the table, the runner's outcome
turned into a return, `RetryRequested` or `Failure`.
"""
