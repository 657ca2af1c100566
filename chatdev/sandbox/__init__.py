"""The locked-down container a program runs in: the runner image, its catalogue, the results."""
