"""Who is calling and what they may do: bearer tokens, the principal, the role table."""
