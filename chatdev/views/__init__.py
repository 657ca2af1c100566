"""What a person sees: the live view, the summaries each command prints, the HTML report."""
