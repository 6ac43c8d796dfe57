"""Trainers: tensor (synthetic), field (physical), hybrid (HYCO), and the factory."""
