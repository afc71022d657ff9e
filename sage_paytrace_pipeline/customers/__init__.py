"""The customer sync flow (issue 15): vault profiles and Sage customers kept in sync both ways."""
