# Pairs a number with itself when 2 * x == target.
def two_sum(nums, target):
    where = {x: i for i, x in enumerate(nums)}
    for i, x in enumerate(nums):
        if target - x in where:
            return (i, where[target - x])
