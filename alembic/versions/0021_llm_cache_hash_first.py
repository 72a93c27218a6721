"""llm_cache's unique key leads with the content hash

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 07:05:00.000000

The answer cache is looked up by (task, prompt version, model) and a list of content hashes. With
the key in that column order, PostgreSQL statistics taken while the cache was small (an ANALYZE
before a rebuild, or before autovacuum catches up) make the planner search the index on its first
three columns and filter the hashes row by row: every lookup then read every cached answer of the
task (110 million index rows in one 100,000-mention rebuild; docs/benchmarks.md, "Why the rebuild
is slower on PostgreSQL"). Led by the hash, the index finds each answer directly whatever the
statistics say. The key's columns, and so what it keeps unique, are unchanged.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = "uq_llm_cache_task_prompt_version_model_content_hash"
NEW = "uq_llm_cache_content_hash_task_prompt_version_model"


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("llm_cache", schema=None) as batch_op:
        batch_op.drop_constraint(op.f(OLD), type_="unique")
        batch_op.create_unique_constraint(op.f(NEW), ["content_hash", "task", "prompt_version", "model"])


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("llm_cache", schema=None) as batch_op:
        batch_op.drop_constraint(op.f(NEW), type_="unique")
        batch_op.create_unique_constraint(op.f(OLD), ["task", "prompt_version", "model", "content_hash"])
