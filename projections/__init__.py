"""Read models: each a pure fold over the event log, with its own tables and tracking position."""
