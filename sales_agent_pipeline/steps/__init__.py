"""The 13 steps as plain functions over domain types and connector protocols."""
