"""The pure judgment core: no Faust, no Kafka, no clock, no randomness, no I/O.

Event time and ids come in as arguments; derived ids are ``uuid5`` of their inputs, so replays are
deterministic. ``tests/unit/test_layering.py`` enforces that nothing here imports an I/O library.
"""
