"""Pure domain helpers shared by several services: answer extraction and comparison, the
token estimator, the fencing of model-written text, seeded randomness and the instruction
each seat's role carries. No I/O."""
