"""The compiled build: `tracker/` lowered (lower.py) and compiled to one JavaScript file
with Transcrypt and esbuild (transpile.py); shims/ holds the Transcrypt-only modules."""
