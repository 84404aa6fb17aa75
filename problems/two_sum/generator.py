def generate(rng):
    """One input: a list with exactly one pair adding up to the target."""
    n = rng.choice([2, 10, 1000, 20000])
    nums = rng.sample(range(-10**9, 10**9, 2), n)  # all even, all distinct
    i, j = sorted(rng.sample(range(n), 2))
    target = nums[i] + nums[j] + 1  # odd: no pair of evens reaches it...
    nums[j] += 1                    # ...except this one pair (even + odd)
    return [nums, target]
