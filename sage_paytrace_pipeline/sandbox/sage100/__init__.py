"""The Sage 100 demo company: a SQLite file with Sage's tables, columns and business data."""
