"""Continuum's pure domain model: no I/O, no clock, no framework."""
