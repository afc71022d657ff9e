"""Local stand-ins for the outside systems (PayTrace sandbox, Sage demo company, generators)."""
