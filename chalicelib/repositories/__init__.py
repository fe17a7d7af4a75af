"""Repositories: the tables as the use cases see them, spoken through the `Store` port."""
