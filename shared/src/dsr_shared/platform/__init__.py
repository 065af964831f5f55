"""What every service runs on: settings, clock, logging, metrics, the broker,
the database with its inbox and outbox, HTTP, sign-in, audit and per-person access."""
