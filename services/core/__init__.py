"""Pure domain helpers shared by several services: answer extraction and comparison, the
token estimator, the fencing of model-written text and seeded randomness. No I/O."""
