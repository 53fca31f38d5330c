"""Domain types: enums, pydantic models and error classes. Imports nothing of ours."""
