"""The demo program's own tests: what the gate's verify step runs on every candidate."""
import slow


def test_small_primes():
    assert slow.primes_below(30) == [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]


def test_squares_are_not_prime():
    assert not any(slow.is_prime(k * k) for k in range(2, 60))


def test_count():
    assert len(slow.primes_below(1000)) == 168


def test_gap_counts():
    assert slow.gap_counts([2, 3, 5, 7, 11, 13]) == {1: 1, 2: 3, 4: 1}


def test_digest():
    assert slow.digest([2, 3]) == slow.digest([2, 3])
    assert slow.digest([2, 3]) != slow.digest([3, 2])
