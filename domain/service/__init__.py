"""The service layer's machinery, apart from the model: what reads and follows the stored log.

The model (aggregates, events, folds) in domain/ does no I/O; the modules here read the
library's recorder on the application's behalf.
"""
