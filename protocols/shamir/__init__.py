"""Shamir secret sharing over a checked prime field (shared by COPML and its MPC baselines)."""

from .field import MAX_FIELD_BITS, PrimeField, largest_prime_below
from .sharing import InconsistentShares, check_consistent, lagrange_matrix, reconstruct, share

__all__ = [
    "MAX_FIELD_BITS",
    "InconsistentShares",
    "PrimeField",
    "check_consistent",
    "lagrange_matrix",
    "largest_prime_below",
    "reconstruct",
    "share",
]
