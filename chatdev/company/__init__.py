"""The company a build runs: its YAML schema and loader, the org chart, prompt templates, `chatdev init`."""
