"""The Dagster shell: resources, ops, jobs, sensors, schedules. Thin over the rest."""
