"""A local stand-in for Twilio: places calls against the app, offline."""
