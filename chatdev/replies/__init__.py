"""Reading a model's reply: the reply formats, the parsers behind them, file plans."""
