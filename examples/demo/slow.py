"""The demo target: counts primes and summarises them. Deliberately slow in one obvious place."""
import sys

LIMIT = 12000


def is_prime(n: int) -> bool:
    if n < 2:
        return False
    for d in range(2, n):  # the hotspot: tries every divisor below n
        if n % d == 0:
            return False
    return True


def primes_below(limit: int) -> list[int]:
    return [n for n in range(limit) if is_prime(n)]


def digest(primes: list[int]) -> int:
    total = 0
    for p in primes:
        total = (total * 31 + p) % 1_000_000_007
    return total


def main(argv: list[str]) -> int:
    limit = int(argv[1]) if len(argv) > 1 else LIMIT
    primes = primes_below(limit)
    print(f"primes below {limit}: {len(primes)}, digest {digest(primes)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
