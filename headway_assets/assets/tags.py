"""Run tags the assets read; the orchestration layer (sensors, jobs) sets them.

They live with the assets so that the dependency points down: orchestration imports them from here.
"""

from __future__ import annotations

# Tag that narrows a raw sync to one organisation's connections (on-demand sync requests).
ORG_TAG = "headway/org_id"
