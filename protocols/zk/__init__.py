"""Zero-knowledge proofs (Σ-protocols made non-interactive by Fiat–Shamir)."""
