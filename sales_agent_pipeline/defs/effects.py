"""The ops' exactly-once writes: PostgresEffects lives in db/ so the API's approvals share it."""

from sales_agent_pipeline.db.effects import PostgresEffects

__all__ = ["PostgresEffects"]
