"""Mending what a small model forgets before anything runs: missing imports."""
