"""Data files of the content types' package (the demo's county plan)."""
