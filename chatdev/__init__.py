"""chatdev: a software company of LLM agents on your own machine."""

__version__ = "0.1.0"
