"""Lagrange's four-square decomposition: n = a^2 + b^2 + c^2 + d^2 for any integer n >= 0.

Why: the tight range proof (``range_proof``) shows ``B^2 - x^2 >= 0`` over the integers by
exhibiting four committed integers whose squares sum to it (Lipmaa's technique), so the prover
needs a decomposition of every such value. This is the randomised Rabin–Shallit method: pick
a (near sqrt(n)) and b at random until p = n - a^2 - b^2 is a prime congruent to 1 mod 4, then write p = c^2 + d^2
with the Hermite–Serret (Cornacchia) descent from a square root of -1 modulo p. Expected
O(log n) primality tests; values here have at most a few hundred bits.

Only the prover's own (secret) values go through this; the verifier never calls it, so its
running time matters but its control flow leaks nothing the proof does not already hide.
"""

from __future__ import annotations

import os
import secrets

import gmpy2

#: Below this, exhaustive search is faster and needs no primes.
_SMALL = 1 << 12
#: How far below sqrt(n) the first square's root is drawn.
_SPREAD = 1 << 32
#: Draw the second square's root near sqrt(n - a^2) too (True, the default) or uniformly below
#: it (False: the decomposition before issue 15's profile, kept only as the profile's
#: before-figure, ``sims.conversion_profile --compare-squares``).
SECOND_NEAR = True
#: Draw the candidates from OS-CSPRNG bytes read a block at a time (``_Draws``) and give a and
#: b the parities that make p = 1 mod 4 (True, the default), or draw every root with its own
#: ``secrets.randbelow`` and reject the 3 in 4 candidates with p != 1 mod 4 after drawing them
#: (False: the search before the second profile of issue 15, kept only as its before-figure;
#: docs/benchmarks.md, "Where coordinate's CPU goes at d = 20").
QUICK_CANDIDATES = True
#: Bytes read from the OS per refill of ``_Draws``.
_DRAW_BLOCK = 1024


class _Draws:
    """Uniform integers below a bound from the OS CSPRNG, by rejection sampling like
    ``secrets.randbelow``, but from bytes read ``_DRAW_BLOCK`` at a time: one system call per
    few dozen draws instead of one or more per draw (the search draws hundreds of candidates
    per decomposition). Every byte is used at most once, so draws stay independent and
    uniform. One instance per decomposition, so threads never share a buffer."""

    __slots__ = ("_buf", "_pos")

    def __init__(self) -> None:
        self._buf = b""
        self._pos = 0

    def below(self, bound: int) -> int:
        """Uniform in [0, bound); bound >= 1."""
        if bound < 1:
            raise ValueError("bound must be at least 1")
        k = (bound - 1).bit_length()
        if k == 0:
            return 0
        size, drop = (k + 7) // 8, -k % 8
        while True:
            if self._pos + size > len(self._buf):
                self._buf, self._pos = os.urandom(max(_DRAW_BLOCK, size)), 0
            chunk = self._buf[self._pos : self._pos + size]
            self._pos += size
            r = int.from_bytes(chunk, "big") >> drop
            if r < bound:
                return r


def four_squares(n: int) -> tuple[int, int, int, int]:
    """Non-negative (a, b, c, d) with a^2 + b^2 + c^2 + d^2 == n; ValueError for n < 0."""
    if n < 0:
        raise ValueError("a negative number is not a sum of squares")
    # n = 4^k m: the decomposition of m, times 2^k (keeps n - a^2 - b^2 odd below). A loop,
    # not recursion: B^2 for a centred value of a 2^1000-wide interval is 4^1000 m.
    shift = 0
    while n >= _SMALL and n % 4 == 0:
        n //= 4
        shift += 1
    if shift:
        a, b, c, d = four_squares(n)
        return a << shift, b << shift, c << shift, d << shift
    if n < _SMALL:
        return _small(n)
    root = int(gmpy2.isqrt(n))
    # a is drawn close to sqrt(n), so rest = n - a^2 has about half of n's bits; b is drawn
    # close to sqrt(rest) likewise (``SECOND_NEAR``), so p = rest - b^2 has about a quarter of
    # them (plus 2 x 33 bits) instead of half: primality tests on numbers half as long, and
    # primes twice as dense (with a uniform in [0, sqrt(n)] a 1100-bit n took about 5 E at 2048
    # bits; with a near and b uniform about 1 E; with both near about 0.3 E: docs/benchmarks.md,
    # "Where the conversion E go"). Which decomposition the prover uses does not matter for
    # zero knowledge: every y is committed and its response masked for any |y| <= B.
    spread = min(root, _SPREAD)
    quick = QUICK_CANDIDATES
    draws = _Draws() if quick else None
    below = draws.below if draws is not None else secrets.randbelow
    while True:
        a = root - below(spread + 1)
        rest = n - a * a
        if quick and rest % 4 in (0, 3):
            continue  # no b makes rest - b^2 = 1 mod 4 (squares are 0 or 1 mod 4)
        root2 = int(gmpy2.isqrt(rest))
        b = root2 - below(min(root2, _SPREAD) + 1) if SECOND_NEAR else below(root2 + 1)
        if quick and (rest - b * b) % 4 != 1:
            # rest = 1 mod 4 wants b even, rest = 2 mod 4 wants b odd (then rest >= 2, so
            # root2 >= 1): the neighbour below (or 1) has the other parity and stays <= root2
            b = b - 1 if b >= 1 else 1
        p = rest - b * b
        if p < 3:  # 0, 1 and 2 are sums of two squares of 0 and 1
            return a, b, int(p >= 1), int(p == 2)
        if p % 4 != 1:
            continue
        if not gmpy2.is_prime(p, 40):
            continue
        c, d = _two_squares_of_prime(p)
        return a, b, c, d


def _two_squares_of_prime(p: int) -> tuple[int, int]:
    """(c, d) with c^2 + d^2 = p for a prime p = 1 mod 4 (Hermite–Serret descent)."""
    while True:
        g = 2 + secrets.randbelow(p - 3)
        if gmpy2.jacobi(g, p) == -1:
            break
    i = int(gmpy2.powmod(g, (p - 1) // 4, p))  # i^2 = -1 mod p
    r0, r1 = p, i
    while r1 * r1 > p:
        r0, r1 = r1, r0 % r1
    c = r1
    d = int(gmpy2.isqrt(p - c * c))
    if c * c + d * d != p:  # pragma: no cover - impossible for a prime = 1 mod 4
        raise ArithmeticError("two-square descent failed")
    return c, d


def _small(n: int) -> tuple[int, int, int, int]:
    a = int(gmpy2.isqrt(n))
    while a >= 0:
        rest = n - a * a
        b = int(gmpy2.isqrt(rest))
        while b >= 0:
            rest2 = rest - b * b
            c = int(gmpy2.isqrt(rest2))
            while c >= 0:
                rest3 = rest2 - c * c
                d = int(gmpy2.isqrt(rest3))
                if d * d == rest3:
                    return a, b, c, d
                c -= 1
            b -= 1
        a -= 1
    raise ArithmeticError("unreachable: every n >= 0 is a sum of four squares")
