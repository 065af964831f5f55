"""What the DSR services share: the event contract, settings, logging and wiring."""
