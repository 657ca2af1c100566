"""A build's run: the engine, the chain of phases, the phase kinds, the model-calling context, conversations."""
