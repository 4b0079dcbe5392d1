"""Paillier encryption with g = N + 1, threshold decryption and vectorised operations."""
