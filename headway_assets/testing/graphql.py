"""What the deployment tests and the backfill benchmark send to Dagster's GraphQL API."""

from __future__ import annotations

# Every asset of the pipeline, in the order a backfill over all of them names them.
ALL_ASSETS = [
    "raw_slack_messages",
    "raw_gmail_messages",
    "raw_gong_messages",
    "raw_fathom_messages",
    "message_authors",
    "message_labels",
    "feature_mentions",
    "message_insights",
    "call_insights",
    "feature_catalog",
    "insights",
    "daily_message_stats",
]
LAUNCH_BACKFILL = """
mutation Backfill($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on UnauthorizedError { message }
  }
}
"""
