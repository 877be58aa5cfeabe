"""What the fixtures of ``tests/conftest.py`` are built from.

Test modules get their world from those fixtures; they import from here only
types (for annotations) and pure helpers that read TwiML or build data.
"""
