"""Dataset loaders: EvalPlus releases (HumanEval+, MBPP+); more to come."""
