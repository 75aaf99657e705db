"""Channel bridges (Slack, Telegram, WhatsApp, ...) feeding the in-app bus."""
