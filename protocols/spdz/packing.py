"""Several bounded plaintexts in one Paillier plaintext: fewer threshold decryptions.

Why: a threshold decryption costs every party one ~|N^2|-bit exponentiation per ciphertext
plus its share of the proofs, whatever the plaintext holds. The values Gadget 3 opens (masked
values and MACs) and Gadget 4 tests (masked differences) are a few hundred bits wide, so a
2048-bit plaintext has room for several. Packing is public homomorphic arithmetic that every
party performs identically on public ciphertexts:

    Enc(sum_t (x_t + shift_t) * 2**off_t) = prod_t Enc(x_t)**(2**off_t) * Enc(sum_t shift_t 2**off_t)

computed by Horner's rule (one squaring per bit of the last offset per packed ciphertext, about
one exponentiation with an |N|-bit exponent, less than one decryption share of ~|N^2| bits).

Exactness: the caller states, per slot, an integer interval [lo_t, hi_t] that x_t lies in,
*proved* (every summand of x_t is range-proved exactly or is a public constant), and
``shift_t = -lo_t``; the slot then gets ``width_t = (hi_t - lo_t).bit_length()`` bits, so its
content x_t - lo_t lies in [0, 2**width_t). Slots of a plaintext are laid side by side and
their total width is at most ``capacity`` = |N| - 2 bits, so the packed integer is below
2**(|N| - 2) < N / 2: nothing carries from one slot into the next and nothing wraps modulo N,
and each slot's bits are exactly its content. If a premise fails (a value outside its proved
interval), the overflow changes the slot's own content and adds a carry to the next slot: an
additive error on values that the callers' checks catch (see the callers and docs/crypto.md,
"Levers from issue 15 in decryption and conversion"). A carry out of a plaintext's last slot
(a value past its top), or a borrow out of it (a value below its bottom makes the packed
integer negative), has no next slot to land in: it leaves bits above the last slot, which
``unpack`` refuses (``ConversionRejected``, no culprit: a premise broke, not a proof).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import gmpy2

from coopetition.protocols.paillier import ops
from coopetition.protocols.paillier.keys import PublicKey

from .errors import ConversionRejected


def pack_slots(widths: Sequence[int], capacity: int) -> list[list[tuple[int, int]]]:
    """Greedy first-fit in order: groups of (slot index, bit offset) with total width <= capacity."""
    groups: list[list[tuple[int, int]]] = []
    used = capacity + 1
    for i, w in enumerate(widths):
        if w > capacity:
            raise ValueError(f"a {w}-bit slot does not fit a {capacity}-bit plaintext")
        if used + w > capacity:
            groups.append([])
            used = 0
        groups[-1].append((i, used))
        used += w
    return groups


def capacity_bits(pk: PublicKey) -> int:
    """Bits a packed plaintext may use: below 2**(|N| - 2) < N / 2, so no slot wraps mod N."""
    return pk.bits - 2


@dataclass(frozen=True)
class Packing:
    """Where each slot sits: ``groups[g]`` lists (slot, offset); ``lows[t]`` is slot t's lower
    bound (its content is x_t - lows[t]), ``widths[t]`` its width in bits."""

    groups: list[list[tuple[int, int]]]
    lows: list[int]
    widths: list[int]

    @classmethod
    def plan(cls, bounds: Sequence[tuple[int, int]], capacity: int) -> Packing:
        """A layout for slots whose values lie in the proved intervals ``bounds`` [(lo, hi)]."""
        if any(hi < lo for lo, hi in bounds):
            raise ValueError("a slot's interval is empty")
        widths = [max(1, (hi - lo).bit_length()) for lo, hi in bounds]
        return cls(pack_slots(widths, capacity), [lo for lo, _ in bounds], widths)

    def __len__(self) -> int:
        return len(self.groups)

    def pack(self, pk: PublicKey, cts: Sequence[int]) -> list[int]:
        """One ciphertext per group: Enc(sum_t (x_t - lo_t) 2**off_t), by Horner's rule."""
        if len(cts) != len(self.widths):
            raise ValueError(f"{len(cts)} ciphertexts for {len(self.widths)} slots")
        n2 = pk.n2_mpz
        out = []
        for group in self.groups:
            acc = gmpy2.mpz(1)
            previous = None
            for slot, offset in reversed(group):
                if previous is not None:
                    acc = gmpy2.powmod(acc, 1 << (previous - offset), n2)
                acc = acc * int(cts[slot]) % n2
                previous = offset
            if previous:
                acc = gmpy2.powmod(acc, 1 << previous, n2)
            # The shift may exceed N/2 when a slot's low end is far wider than the slot (the
            # packed sum itself stays in range): add its centred residue, the same plaintext
            # modulo N.
            const = sum(-self.lows[slot] << offset for slot, offset in group) % pk.n
            if const > pk.n // 2:
                const -= pk.n
            out.append(ops.add_plain(pk, int(acc), const))
        return out

    def unpack(self, pk: PublicKey, opened: Sequence[int]) -> list[int]:
        """The slots' values x_t from the decrypted packed plaintexts (signed or not)."""
        if len(opened) != len(self.groups):
            raise ValueError(f"{len(opened)} plaintexts for {len(self.groups)} groups")
        out = [0] * len(self.widths)
        for plain, group in zip(opened, self.groups, strict=True):
            unsigned = int(plain) % pk.n
            last, top = group[-1]
            if unsigned >> (top + self.widths[last]):
                # an honest packed plaintext ends with its last slot; higher bits are a carry
                # out of the last slot (past its top) or a borrow (below its bottom: negative)
                raise ConversionRejected(
                    "a packed plaintext has bits above its last slot: some value was outside "
                    "its proved interval"
                )
            for slot, offset in group:
                content = (unsigned >> offset) & ((1 << self.widths[slot]) - 1)
                out[slot] = content + self.lows[slot]
        return out
