"""The simulator's own tests (`tallyfy_source/simulator/`): they start it and read it, never the
connector. Shared fixtures and helpers: `support.py`; what Tallyfy's docs show: `documented_shapes.py`."""
