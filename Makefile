# The two Quickstart commands. Each sets up what it needs (idempotently) and runs.
.PHONY: demo test check lint clean

TASK ?= a snake game

demo:  ## set up, then let the company build a snake game on the embedded model
	@bash scripts/setup.sh embedded
	.venv/bin/chatdev build "$(TASK)"

test:  ## set up, then run the whole test suite (real llama.cpp, real Docker, real git)
	@bash scripts/setup.sh dev
	.venv/bin/python -m pytest

check:
	.venv/bin/chatdev check

clean:
	rm -rf .venv .pytest_cache
