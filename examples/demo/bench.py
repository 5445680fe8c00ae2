"""The demo's benchmark suite: one kernel of slow.py at one size per process
(`perfgate demo --suite` gates all of them at once; see suite.yaml)."""
import sys

import slow


def main(argv: list[str]) -> int:
    kernel, limit = argv[1], int(argv[2])
    primes = slow.primes_below(limit)
    if kernel == "digest":
        print(slow.digest(primes))
    elif kernel == "gaps":
        print(len(slow.gap_counts(primes)))
    else:
        print(len(primes))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
