"""The demo target: counts primes and summarises them. Deliberately slow in a few places."""
import sys

LIMIT = 16000


def is_prime(n: int) -> bool:
    if n < 2:
        return False
    for d in range(2, int(n ** 0.5) + 1):
        if n % d == 0:
            return False
    return True


def primes_below(limit: int) -> list[int]:
    return [n for n in range(limit) if is_prime(n)]


def digest(primes: list[int]) -> int:
    total = 0
    for _ in range(150):
        for p in primes:
            total = (total * 31 + p) % 1_000_000_007
    return total


def gap_counts(primes: list[int]) -> dict[int, int]:
    gaps = [b - a for a, b in zip(primes, primes[1:])]
    counts = {}
    for gap in gaps:
        counts[gap] = len([g for g in gaps if g == gap])
    return counts


def main(argv: list[str]) -> int:
    limit = int(argv[1]) if len(argv) > 1 else LIMIT
    primes = primes_below(limit)
    common = max(gap_counts(primes).items(), key=lambda kv: (kv[1], -kv[0]))
    print(f"primes below {limit}: {len(primes)}, digest {digest(primes)}, "
          f"most common gap {common[0]} ({common[1]} times)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
