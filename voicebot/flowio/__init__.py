"""I/O that flow actions need (webhooks); the pure runtime in ``voicebot.flow`` never imports it."""
