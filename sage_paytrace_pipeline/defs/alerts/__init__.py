"""Run-failure alerts: e-mail (SMTP), Slack and Microsoft Teams, configured by the `alerts` section."""
