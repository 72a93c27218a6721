"""Export-file readers, one per source, behind a single entry point `read_export`.

| source | file | reader |
|---|---|---|
| Slack | workspace export ZIP (or its unpacked folder) | `slack_export.read_slack_export` |
| Gmail | Google Takeout / mboxrd `.mbox` | `gmail_mbox.read_gmail_mbox` |
| Gong | `/v2/calls/extensive` + `/v2/calls/transcript` JSON | `gong_transcripts.read_gong_transcripts` |
| Fathom | JSON / JSON Lines of Meeting objects | `fathom_meetings.read_fathom_meetings` |
"""
