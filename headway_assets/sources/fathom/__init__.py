"""fathom."""
