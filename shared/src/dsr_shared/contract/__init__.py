"""The public contract: events and their envelope, topics, who reads and writes
them, and the request fields every service checks the same way."""
