"""Pure domain helpers shared by several services: answer extraction and comparison, the
token estimator, candidate fencing and seeded randomness. No I/O."""
