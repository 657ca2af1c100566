"""What a program is checked against: its examples, acceptance scenarios, test triage, placeholders."""
